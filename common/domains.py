"""The registrable domain and the e-mail matching key: one function each, used at ingest, identity,
matching and enrichment, so a company or a person has the same key everywhere."""

from __future__ import annotations

from functools import lru_cache

import tldextract

# Bundled Public Suffix List snapshot only: suffix_list_urls=() never fetches, cache_dir=None never
# writes. Private suffixes are on so acme.myshopify.com stays acme.myshopify.com instead of collapsing
# every store (or every github.io page) into one domain that would match unrelated companies to one account.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)

# Gmail ignores dots in the local part and treats googlemail.com as gmail.com.
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# Companies repeat across leads and tldextract costs about 0.05 ms a call; 65,536 entries are a few MB.
_CACHE_SIZE = 65_536


@lru_cache(maxsize=_CACHE_SIZE)
def registrable_domain(raw: str | None) -> str | None:
    """Registrable domain of a URL, host or address: "https://www.Shop.Acme.co.uk/x" → "acme.co.uk",
    "jane@de.acme.com" → "acme.com", "acme.myshopify.com" → "acme.myshopify.com"; None when there is none."""
    if raw is None:
        return None
    text = "".join(str(raw).split()).lower()
    if not text:
        return None
    if "@" in text and "://" not in text:
        text = text.rpartition("@")[2]
    extracted = _EXTRACT(text)
    if not extracted.suffix or not extracted.domain:
        return None
    return extracted.top_domain_under_public_suffix or None


def email_key(value: object) -> str | None:
    """Matching key of an address: one person's variants (case, `+tags`, Gmail dots, googlemail.com) fold
    to one key; None for anything that is not one address."""
    if value is None:
        return None
    text = "".join(str(value).split()).lower()
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    # A local part that starts with "+" has no base to keep; the whole thing is the mailbox name.
    base = local.split("+", 1)[0] or local
    if domain in _GMAIL_DOMAINS:
        base, domain = base.replace(".", ""), "gmail.com"
    if not base or "." not in domain:
        return None
    return f"{base}@{domain}"
