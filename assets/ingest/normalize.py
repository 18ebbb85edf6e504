"""Normalized columns of raw.inbound_events, computed with field libraries (pure functions).

Each function takes the raw value(s) as received and returns the normalized value or None; nothing here
raises on bad input, because a lead with a garbled phone number is still a lead.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote

import phonenumbers
import pycountry
from cleanco import basename as company_basename
from email_validator import EmailNotValidError, validate_email
from nameparser import HumanName

from assets.ingest.contract import FIELD_LIMITS, InboundEvent
from assets.ingest.email_domains import is_disposable_domain, is_free_domain
from common.domains import email_key, registrable_domain

# The output columns, in the order of docs/architecture.md.
NORMALIZED_COLUMNS = (
    "email_normalized",
    "email_key",
    "email_domain",
    "is_free_email",
    "is_disposable_email",
    "first_name_normalized",
    "last_name_normalized",
    "company_normalized",
    "website_domain",
    "country_code",
    "phone_e164",
    "employees_reported_min",
    "employees_reported_max",
    "spam_signals",
)

SPAM_SIGNAL_CODES = (
    "honeypot_filled",
    "disposable_email",
    "junk_email",
    "invalid_email",
    "link_stuffed_message",
    "markup_in_fields",
    "gibberish_message",
)


# Per-value caches: names, companies, websites and countries repeat across leads (one company sends
# many), and the field libraries cost 0.05-0.5 ms per call. 65,536 entries bound memory to a few MB.
_CACHE_SIZE = 65_536


def _fold_whitespace(value: str | None) -> str | None:
    if value is None:
        return None
    folded = " ".join(value.split())
    return folded or None


# --- email ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_email(raw: str | None) -> str | None:
    """Trimmed, lower-cased address when its syntax is valid (no DNS lookup), else None."""
    if raw is None or not raw.strip():
        return None
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def email_domain(email_normalized: str | None) -> str | None:
    if email_normalized is None:
        return None
    return email_normalized.rpartition("@")[2]


# Local parts people type when they do not want to give an address, or that no person reads. Compared
# with separators (. - _) removed and trailing digits dropped, so "no.reply", "do_not_reply", "test-123"
# and "MAILER_DAEMON" match too. Role inboxes people do read (info, sales, hello, admin) are not here.
_JUNK_LOCALS = frozenset(
    {
        # placeholders
        "test",
        "tests",
        "testing",
        "tester",
        "fake",
        "spam",
        "junk",
        "null",
        "none",
        "na",
        "nil",
        "nobody",
        "noone",
        "nomail",
        "noemail",
        "example",
        "sample",
        "foo",
        "bar",
        "foobar",
        "abc",
        "xyz",
        "email",
        "emailaddress",
        "youremail",
        "youremailaddress",
        "yourname",
        "name",
        "firstname",
        "lastname",
        "firstnamelastname",
        "firstlast",
        "user",
        "username",
        "someone",
        "somebody",
        "anonymous",
        "anon",
        # mailboxes no person reads
        "noreply",
        "donotreply",
        "dontreply",
        "mailerdaemon",
        "postmaster",
        "hostmaster",
        "abuse",
        "root",
        "daemon",
        "bounce",
        "bounces",
        "devnull",
        "unsubscribe",
    }
)
_LONGEST_JUNK_LOCAL = max(len(local) for local in _JUNK_LOCALS)
# Inside a longer local part these still mean "nobody reads this": billing-noreply@, noreply.alerts@.
_UNREAD_MARKERS = ("noreply", "donotreply", "dontreply", "mailerdaemon")
# Domain labels (any label but the top-level one) that only placeholders use: RFC 2606 / RFC 6761 names
# reserved for documentation and testing, and the obvious "your domain here" fillers.
_JUNK_DOMAIN_LABELS = frozenset(
    {
        "test",
        "example",
        "invalid",
        "domain",
        "yourdomain",
        "yourcompany",
        "companyname",
        "mycompany",
        "nowhere",
        "nomail",
        "noemail",
        "fake",
        "fakeemail",
        "fakemail",
    }
)
_SELF_NAMED_FILLERS = frozenset({"me", "my", "you", "mail"})
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local"})
_LOCAL_SEPARATORS = re.compile(r"[._-]+")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Every run of 3+ keys along a row, both directions: asd, sdfg, lkjh, qwerty, ...
_KEYBOARD_WALKS = frozenset(
    line[start:end]
    for row in _KEYBOARD_ROWS
    for line in (row, row[::-1])
    for start in range(len(line))
    for end in range(start + 3, len(line) + 1)
)


_LONGEST_WALK = max(len(row) for row in _KEYBOARD_ROWS)


def _is_keyboard_walk(text: str, min_length: int = 4) -> bool:
    """asdf, qwerty, lkjh, asdasd, sdfsdf: runs along one keyboard row, possibly repeated."""
    if len(text) < min_length:
        return False
    if text in _KEYBOARD_WALKS:
        return True
    # A repeated walk of 3+ keys ("asdasd", "sdfgsdfg") is a walk too. A walk is at most one row long
    # (10 keys), so longer chunks are never tried: linear in the text, not quadratic.
    for size in range(3, min(len(text) // 2, _LONGEST_WALK) + 1):
        chunk = text[:size]
        if chunk in _KEYBOARD_WALKS and (chunk * (len(text) // size + 1)).startswith(text):
            return True
    return False


def _is_junk_word(word: str) -> bool:
    """A placeholder word, alone, with digits after it (test1) or repeated (testtest)."""
    word = word.rstrip("0123456789")
    if word in _JUNK_LOCALS:
        return True
    return any(
        len(word) % size == 0 and word[:size] in _JUNK_LOCALS and word[:size] * (len(word) // size) == word
        for size in range(2, min(len(word) // 2, _LONGEST_JUNK_LOCAL) + 1)
    )


def is_junk_email(raw: str | None) -> bool:
    """Syntactically plausible but not a person's address: test@test.com, a@a.a, noreply@, asdf@..."""
    if raw is None:
        return False
    address = raw.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return False
    bare_local = local.split("+", 1)[0]
    words = [word for word in _LOCAL_SEPARATORS.split(bare_local) if word]
    compact = "".join(words)
    labels = domain.rstrip(".").split(".")
    if _is_junk_word(compact) or (words and all(_is_junk_word(word) for word in words)):
        return True  # test, no.reply, test-123, test.test, test_user
    if any(marker in compact for marker in _UNREAD_MARKERS):
        return True
    if labels[-1] in _RESERVED_TLDS or _JUNK_DOMAIN_LABELS.intersection(labels[:-1]):
        return True
    if len(set(bare_local)) == 1 and len(bare_local) >= 2:  # aa@, xxxx@
        return True
    if len(bare_local) == 1 and len(labels[0]) == 1:  # a@a.a, x@y.com
        return True
    # me@me.com, mail@mail.com: filler typed on both sides of the @ (bob@bob.com may be a real vanity
    # domain, so only filler words count).
    if len(labels) >= 2 and compact == labels[-2] and compact in _SELF_NAMED_FILLERS:
        return True
    if len(labels) >= 2 and _is_keyboard_walk(labels[-2]):  # jane@asdf.com
        return True
    return _is_keyboard_walk(compact.rstrip("0123456789"))


# --- names and company ---------------------------------------------------------------------------------


@lru_cache(maxsize=_CACHE_SIZE)
def _capitalize_name_part(part: str | None) -> str | None:
    """Title-case a name part written in one case (JOHN, o'brien → O'Brien, mcdonald → McDonald).

    A part already written in mixed case (DeShawn, McKenzie) is how the person spells it; nameparser's
    forced capitalization would turn DeShawn into Deshawn, so it is kept as typed.
    """
    part = _fold_whitespace(part)
    if part is None:
        return None
    if part not in (part.lower(), part.upper()):
        return part
    name = HumanName(part)
    name.capitalize(force=True)
    return _fold_whitespace(str(name)) or part


# nameparser costs ~20 µs per character (a 40 KB "name" takes a second): text longer than the contract's
# longest name field is not a name, and is not parsed.
_MAX_NAME_CHARS = FIELD_LIMITS["full_name"].max_chars


def _bounded_name(value: str | None) -> str | None:
    return value if value is None or len(value) <= _MAX_NAME_CHARS else None


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_names(
    first_name: str | None, last_name: str | None, full_name: str | None
) -> tuple[str | None, str | None]:
    """(first, last), title-cased; a missing part is taken from full_name parsed by nameparser."""
    first = _capitalize_name_part(_bounded_name(first_name))
    last = _capitalize_name_part(_bounded_name(last_name))
    full = _fold_whitespace(_bounded_name(full_name))
    if (first is None or last is None) and full:
        # One parse, capitalized as a whole when written in one case (nameparser's own rule): parsing
        # costs 0.25-0.5 ms, so re-parsing each part separately would double the cost of a full name.
        parsed = HumanName(full)
        parsed.capitalize()
        if first is None:
            first = _fold_whitespace(parsed.first)
        if last is None:
            last = _fold_whitespace(parsed.last)
    return first, last


# Values people type into a required "Company" box when they have none; matching leads on them would
# link strangers, so they normalize to None.
_NO_COMPANY = frozenset(
    {
        "n/a",
        "na",
        "n.a.",
        "none",
        "null",
        "nil",
        "-",
        "--",
        ".",
        "x",
        "self",
        "self-employed",
        "self employed",
        "personal",
        "private",
        "individual",
        "freelance",
        "freelancer",
        "test",
    }
)


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_company(raw: str | None) -> str | None:
    """Lower-cased company name without its legal suffix (cleanco): "ACME GmbH" → "acme"."""
    name = _fold_whitespace(raw)
    if name is None or name.lower() in _NO_COMPANY:
        return None
    # cleanco removes one suffix per call: "Acme & Sons Co., Ltd." needs two passes.
    for _ in range(3):
        stripped = company_basename(name).strip(" ,.;:-")
        if not stripped or stripped == name:
            break
        name = stripped
    name = name.lower()
    name = name.removeprefix("the ").strip()
    return _fold_whitespace(name)


# --- website -------------------------------------------------------------------------------------------


# --- country and phone ---------------------------------------------------------------------------------


def _fold_text(value: str) -> str:
    """Casefolded, accents removed, punctuation dropped: "Côte d'Ivoire" → "cote divoire"."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    kept = re.sub(r"[^\w\s]", "", without_marks)
    return " ".join(kept.split())


# Names people type that pycountry's names miss (checked against pycountry 26.2.16).
_COUNTRY_ALIASES = {
    "america": "US",
    "united states of america": "US",
    "us of a": "US",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "holland": "NL",
    "nederland": "NL",
    "korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "turkey": "TR",
    "turkiye": "TR",
    "ivory coast": "CI",
    "uae": "AE",
    "brasil": "BR",
    "espana": "ES",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "osterreich": "AT",
    "italia": "IT",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "eire": "IE",
    "macedonia": "MK",
    "palestine": "PS",
    "vatican": "VA",
    "vatican city": "VA",
    "burma": "MM",
    "swaziland": "SZ",
    "cape verde": "CV",
    "micronesia": "FM",
    "dr congo": "CD",
    "drc": "CD",
    "democratic republic of congo": "CD",
    "czech republic": "CZ",
}


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                index[_fold_text(value)] = country.alpha_2
        index[country.alpha_3.lower()] = country.alpha_2
        index[country.alpha_2.lower()] = country.alpha_2
    index.update(_COUNTRY_ALIASES)
    return index


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_country(raw: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from a name, alpha-2/alpha-3 code or common alias, else None."""
    if raw is None:
        return None
    key = _fold_text(raw)
    index = _country_index()
    if key in index:
        return index[key]
    if key.startswith("the "):
        return index.get(key.removeprefix("the "))
    return None


def normalize_phone(raw: str | None, country_code: str | None) -> str | None:
    """E.164 when phonenumbers finds a valid number (country_code is the hint for national formats)."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, country_code)
    except phonenumbers.NumberParseException:
        return None
    # Valid, not merely possible: "+1 111 111 1111" has a possible length but no such area code, and a
    # wrong E.164 value would match strangers' phone numbers downstream.
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- employees -----------------------------------------------------------------------------------------

# The largest employer reports about 2.3 million people: a bigger number is a typo or a joke.
_MAX_EMPLOYEES = 5_000_000
_FILLER = re.compile(
    # The lookbehind starts the trailing-punctuation match only at the start of a run: without it every
    # position of "....x" rescans the run to its end (quadratic).
    r"\b(?:employees?|emps?|staff|people|persons?|ppl|ftes?|headcount|workers|members|team)\b"
    r"|(?<![.,;:!?])[.,;:!?]+$"
)
_NUMBER = r"(\d{1,3}(?:[,'’]\d{3})+|\d+(?:\.\d+)?)\s*([km])?"
_MULTIPLIERS = {None: 1, "k": 1_000, "m": 1_000_000}
_RANGE = re.compile(rf"(?:between\s+)?{_NUMBER}\s*(?:-|to|and)\s*{_NUMBER}")
_AT_LEAST = re.compile(
    rf"(?:(?:over|more than|above|greater than|at least|min(?:imum)?|>=?)\s*{_NUMBER}"
    rf"|{_NUMBER}\s*(?:\+|or more|and above|and up|plus))"
)
_BELOW = re.compile(rf"(?:under|less than|fewer than|below|<)\s*{_NUMBER}")
_UP_TO = re.compile(rf"(?:up to|at most|max(?:imum)?|<=)\s*{_NUMBER}")
_ABOUT = re.compile(
    rf"(?:(?:about|around|approx(?:imately|\.)?|roughly|circa|ca\.?|~|±|\+/-)\s*{_NUMBER}|{_NUMBER}\s*(?:ish|-ish))"
)
_EXACT = re.compile(_NUMBER)
_JUST_ME = frozenset({"just me", "only me", "me", "myself", "solo", "one", "self"})


def _to_count(digits: str | None, suffix: str | None) -> int | None:
    if digits is None:
        return None
    value = float(re.sub(r"[,'’]", "", digits)) * _MULTIPLIERS[suffix]
    if not value.is_integer() or value < 1 or value > _MAX_EMPLOYEES:
        return None
    return int(value)


def _groups(match: re.Match[str]) -> tuple[str | None, str | None]:
    """The (digits, suffix) of whichever alternative of the pattern matched."""
    values = match.groups()
    for index in range(0, len(values), 2):
        if values[index] is not None:
            return values[index], values[index + 1]
    return None, None


@lru_cache(maxsize=_CACHE_SIZE)
def parse_employees(raw: str | None) -> tuple[int | None, int | None]:
    """(min, max) from self-reported headcount text; (None, None) when it is not a headcount.

    "51-200" → (51, 200), "1000+" → (1000, None), "1k-5k" → (1000, 5000), "about 300" → (300, 300),
    "10,000" → (10000, 10000), "under 10" → (1, 9).
    """
    if raw is None:
        return None, None
    text = raw.strip().lower().replace("–", "-").replace("—", "-")
    text = " ".join(_FILLER.sub(" ", text).split())
    if not text:
        return None, None
    if text in _JUST_ME:
        return 1, 1
    if match := _RANGE.fullmatch(text):
        low_digits, low_suffix, high_digits, high_suffix = match.groups()
        # "1-5k" means 1,000-5,000: the upper bound's multiplier carries over when the bare lower
        # number is below the bare upper one ("500-5k" stays 500-5,000).
        if low_suffix is None and high_suffix is not None and float(low_digits) < float(high_digits):
            low_suffix = high_suffix
        low, high = _to_count(low_digits, low_suffix), _to_count(high_digits, high_suffix)
        if low is None or high is None or low > high:
            return None, None
        return low, high
    if match := _AT_LEAST.fullmatch(text):
        value = _to_count(*_groups(match))
        return (value, None) if value is not None else (None, None)
    if match := _BELOW.fullmatch(text):
        value = _to_count(*_groups(match))
        return (1, value - 1) if value is not None and value > 1 else (None, None)
    if match := _UP_TO.fullmatch(text):
        value = _to_count(*_groups(match))
        return (1, value) if value is not None else (None, None)
    for pattern in (_ABOUT, _EXACT):
        if match := pattern.fullmatch(text):
            value = _to_count(*_groups(match))
            return (value, value) if value is not None else (None, None)
    return None, None


# --- spam signals --------------------------------------------------------------------------------------

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# A host with a path but no scheme, as spammers write short links: bit.ly/x, cheap-pills.ru/buy. It counts
# only when the bundled suffix list knows its suffix, so "Node.js/React" and "e.g./i.e." are not links.
_BARE_LINK = re.compile(
    r"(?<![\w@./-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63})/[^\s<>\"']*", re.IGNORECASE
)
# DOM event handler attributes (onerror=, onload=, onmouseover=, ...): named one by one so that prose
# such as "online=yes" or "onboarding = week 1" is not markup.
_EVENT_HANDLER = (
    r"\bon(?:error|load|unload|beforeunload|click|dblclick|auxclick|contextmenu|mouse[a-z]+|key[a-z]+"
    r"|pointer[a-z]+|touch[a-z]+|drag[a-z]*|drop|focus[a-z]*|blur|change|input|submit|reset|select"
    r"|toggle|scroll|resize|wheel|copy|cut|paste|animation[a-z]+|transition[a-z]+|begin|hashchange"
    r"|pageshow|popstate|play|message)\s*=\s*[\"'`\w(]"
)
# Element names a browser renders or runs: HTML (with the obsolete ones spam still uses: font, center,
# marquee), the svg and math roots. A word in angle brackets that is none of them - "<your name>",
# "<company>", a made-up "<system>" - is prose or a placeholder to a browser, not markup: it renders as
# nothing and runs nothing, so it is no bot signature (instruction-like text is the intent rules' to flag).
_HTML_ELEMENTS = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound big blink "
    "blockquote body br button canvas caption center cite code col colgroup data datalist dd del details "
    "dfn dialog dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 "
    "h4 h5 h6 head header hgroup hr html i iframe image img input ins isindex kbd keygen label legend li "
    "link listing main map mark marquee math menu menuitem meta meter nav nobr noembed noframes noscript "
    "object ol optgroup option output p param picture plaintext portal pre progress q rb rp rt rtc ruby s "
    "samp script search section select slot small source span strike strong style sub summary sup svg "
    "table tbody td template textarea tfoot th thead time title tr track tt u ul var video wbr xmp"
)
# A custom element (<x-widget>) has a hyphen in its name; longest names first so "abbr" is not read as "a".
_ELEMENT_NAME = "(?:{}|[a-z][a-z0-9]*-[a-z0-9-]*)".format(
    "|".join(sorted(_HTML_ELEMENTS.split(), key=len, reverse=True))
)
# Markup or script in a form field, after HTML entities and %-escapes are decoded (has_markup):
# - a tag of an element above (<a href=...>, </div>, <br/>, <svg/onload=...>). "<3" and "a < b > c" are
#   not tags (no space after "<" in a tag); neither is "<john@acme.com>" nor "<your name>";
# - a dangerous element opened without its closing ">" (<iframe src=//x, <script src=...);
# - an escaped tag left over after decoding (&amp;lt;script), script URLs (javascript:, vbscript:,
#   data:text/html), event handler attributes outside a tag (" onmouseover="alert(1)), a log4j
#   ${jndi:...} lookup, BBCode links.
_MARKUP = re.compile(
    rf"</?{_ELEMENT_NAME}(?=[\s/>])(?:[\s/][^<>]*)?/?>"
    r"|</?(?:script|iframe|frame|frameset|object|embed|applet|svg|math|style|link|meta|base|form|img|body)\b"
    rf"|&lt;/?{_ELEMENT_NAME}\b"
    r"|(?:java|vb)script\s*:\S|data:text/html"
    rf"|{_EVENT_HANDLER}"
    r"|\$\{jndi:"
    r"|\[/?(?:url|link|img)[=\]]",
    re.IGNORECASE,
)
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")
_LATIN_WORD = re.compile(r"[a-zà-öø-ÿœ]+", re.IGNORECASE)
_HOME_ROW = frozenset("asdfghjkl")


def _is_bare_link(host: str) -> bool:
    return registrable_domain(host) is not None


def _links(text: str) -> list[str]:
    """URLs with a scheme or www., then bare host/path links outside them."""
    links = _URL.findall(text)
    rest = _URL.sub(" ", text)
    links.extend(match.group(0) for match in _BARE_LINK.finditer(rest) if _is_bare_link(match.group(1)))
    return links


def _without_links(text: str) -> str:
    text = _URL.sub(" ", text)
    return _BARE_LINK.sub(lambda match: " " if _is_bare_link(match.group(1)) else match.group(0), text)


def is_link_stuffed(message: str | None) -> bool:
    """Three or more links, or a message that is mostly link text (over 75 % of its characters)."""
    if not message:
        return False
    links = _links(message)
    if len(links) >= 3:
        return True
    if not links:
        return False
    visible = len("".join(message.split()))
    return sum(len(link) for link in links) / visible > 0.75


def has_markup(*texts: str | None) -> bool:
    """Markup or script in any of the texts, also when hidden behind HTML entities or %-escapes."""
    for text in texts:
        if not text:
            continue
        if _MARKUP.search(text):
            return True
        # &lt;script&gt;, &#60;script&#62; and %3Cscript%3E are the same payload once a page decodes them.
        if ("&" in text or "%" in text) and _MARKUP.search(html.unescape(unquote(text))):
            return True
    return False


def _is_home_row_mash(word: str) -> bool:
    """ajsdhaksjdh: 8+ letters typed on the home row alone with few vowels. Real words that use only
    home-row letters are short (flask, salad) or vowel-rich (Finnish "kassalla", 38 % vowels); the mash
    runs under 25 %."""
    if len(word) < 8 or not _HOME_ROW.issuperset(word):
        return False
    return sum(letter in _VOWELS for letter in word) / len(word) < 0.25


def is_gibberish(message: str | None) -> bool:
    """Keyboard mash rather than words: asdfgh, xkcdqwrtz, aaaaaaaaaaaa, ajsdhaksjdh.

    Tuned to leave short real messages alone ("pricing?", "Need a demo for 50 seats", "SSO + SCIM?"):
    acronyms (all capitals) are skipped and only Latin-script words are judged, so a message in Chinese
    or Russian is never gibberish here.
    """
    if not message:
        return False
    text = _without_links(message)
    # Addresses are not words: drop each whitespace-separated token with an "@" inside it. The regex
    # \S+@\S+ did the same but rescanned a long token from every position (20 KB took 1.3 s, 80 KB 18.6 s).
    text = " ".join(token for token in text.split() if "@" not in token[1:-1])
    words = [word for word in _LATIN_WORD.findall(text) if not (word.isupper() and len(word) > 1)]
    for word in words:
        lowered = word.lower()
        # English words top out at 4-5 letters without a vowel ("rhythms" has y, counted as a vowel).
        if len(lowered) >= 6 and not _VOWELS.intersection(lowered):
            return True
        if _is_keyboard_walk(lowered, min_length=5) or _is_home_row_mash(lowered):
            return True
    letters = "".join(words).lower()
    if len(letters) >= 20:
        # 20 letters of real text use at least 8 distinct letters; mash such as "asdasdasd..." uses 3-5.
        if len(set(letters)) <= 5:
            return True
        # English and the other Latin-script languages run 35-45 % vowels; mash runs far lower.
        vowel_share = sum(letter in _VOWELS for letter in letters) / len(letters)
        if len(letters) >= 30 and vowel_share < 0.15:
            return True
    return False


def spam_signals(
    *,
    honeypot: str | None,
    email: str | None,
    email_normalized: str | None,
    is_disposable_email: bool | None,
    message: str | None,
    text_fields: tuple[str | None, ...],
) -> list[str]:
    """Signal codes in the documented order; an empty list for a clean lead."""
    signals = []
    if honeypot is not None and honeypot.strip():
        signals.append("honeypot_filled")
    if is_disposable_email:
        signals.append("disposable_email")
    if is_junk_email(email):
        signals.append("junk_email")
    if email is not None and email.strip() and email_normalized is None:
        signals.append("invalid_email")
    if is_link_stuffed(message):
        signals.append("link_stuffed_message")
    if has_markup(message, *text_fields):
        signals.append("markup_in_fields")
    if is_gibberish(message):
        signals.append("gibberish_message")
    return signals


# --- the whole event -----------------------------------------------------------------------------------


def normalize_event(event: InboundEvent) -> dict[str, Any]:
    """The normalized columns of raw.inbound_events for one event (keys: NORMALIZED_COLUMNS)."""
    email_normalized = normalize_email(event.email)
    domain = email_domain(email_normalized)
    first, last = normalize_names(event.first_name, event.last_name, event.full_name)
    country_code = normalize_country(event.country)
    employees_min, employees_max = parse_employees(event.employees)
    is_disposable = is_disposable_domain(domain) if domain else None
    utm = event.utm
    partner = event.partner
    signals = spam_signals(
        honeypot=event.honeypot,
        email=event.email,
        email_normalized=email_normalized,
        is_disposable_email=is_disposable,
        message=event.message,
        # Every field the visitor or the producer's page controls. `extra` is left out on purpose: it
        # holds producer-specific fields whose format we do not know (some may carry HTML by design).
        text_fields=(
            event.email,
            event.first_name,
            event.last_name,
            event.full_name,
            event.company,
            event.website,
            event.job_title,
            event.phone,
            event.country,
            event.employees,
            event.landing_page,
            event.ip,
            event.user_agent,
            *((partner.id, partner.name, partner.referrer_email) if partner else ()),
            *((utm.source, utm.medium, utm.campaign, utm.content, utm.term) if utm else ()),
        ),
    )
    return {
        "email_normalized": email_normalized,
        "email_key": email_key(email_normalized),
        "email_domain": domain,
        "is_free_email": is_free_domain(domain) if domain else None,
        "is_disposable_email": is_disposable,
        "first_name_normalized": first,
        "last_name_normalized": last,
        "company_normalized": normalize_company(event.company),
        "website_domain": registrable_domain(event.website),
        "country_code": country_code,
        "phone_e164": normalize_phone(event.phone, country_code),
        "employees_reported_min": employees_min,
        "employees_reported_max": employees_max,
        "spam_signals": ";".join(signals),
    }
