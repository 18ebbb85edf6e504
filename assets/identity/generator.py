"""Seeded, labeled synthetic leads, CRM contacts and accounts with the mess real forms produce.

Every record carries `true_person_id` and `true_account_id` (NULL when the person's company is not a CRM
account), so training charts and evaluation can be checked against the truth. Values use the column
names of the normalized lead columns (docs/architecture.md) but keep the mess that survives or precedes
normalization: case, whitespace, `+tags`, nicknames, typos, legal-suffix variants, alias domains,
personal mailboxes, role addresses, repeat submissions across sources.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

import pandas as pd
from pydantic import BaseModel, Field

from assets.identity.prepare import nickname_table


def _word_list(name: str) -> tuple[str, ...]:
    text = resources.files("assets.identity").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


_FIRST_NAMES = _word_list("first_names.txt")
_LAST_NAMES = _word_list("last_names.txt")
_COMPANY_WORDS = (
    "acme",
    "apex",
    "arbor",
    "atlas",
    "aurora",
    "beacon",
    "birch",
    "blue",
    "bright",
    "cascade",
    "cedar",
    "summit",
    "cobalt",
    "comet",
    "coral",
    "crest",
    "delta",
    "ember",
    "evergreen",
    "falcon",
    "fern",
    "flux",
    "granite",
    "harbor",
    "helix",
    "horizon",
    "indigo",
    "iron",
    "juniper",
    "keystone",
    "lumen",
    "maple",
    "meridian",
    "nimbus",
    "north",
    "nova",
    "oak",
    "onyx",
    "orbit",
    "pine",
    "pioneer",
    "prism",
    "quartz",
    "radiant",
    "redwood",
    "ridge",
    "river",
    "sable",
    "sierra",
    "silver",
    "solstice",
    "spark",
    "sterling",
    "stone",
    "sun",
    "terra",
    "tidal",
    "titan",
    "vertex",
    "willow",
    "zenith",
)
_COMPANY_SECTORS = (
    "analytics",
    "labs",
    "logistics",
    "systems",
    "software",
    "health",
    "foods",
    "energy",
    "robotics",
    "media",
    "capital",
    "partners",
    "networks",
    "dynamics",
    "solutions",
    "ventures",
    "works",
    "bio",
    "data",
    "cloud",
    "security",
    "retail",
)
_LEGAL_SUFFIXES = (
    "",
    "",
    "Inc.",
    ", Inc.",
    "Inc",
    "Corp.",
    "Corporation",
    "LLC",
    "Ltd",
    "Ltd.",
    "GmbH",
    "Co.",
)
_COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "NL", "AU", "ES", "IT", "SE", "IN", "BR", "JP")
_COUNTRY_TLDS = {"GB": "co.uk", "DE": "de", "FR": "fr", "NL": "nl", "ES": "es", "IT": "it", "SE": "se"}
_COUNTRY_PHONE = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "NL": "31", "AU": "61"}
_FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")
_ROLE_LOCALS = ("info", "sales", "contact", "hello", "marketing")
_SOURCES = ("web_form", "webinar", "content_download", "partner", "chat", "event", "demo_request")


class GeneratorConfig(BaseModel):
    """Rates of each kind of mess: guesses at a B2B inbound form, stated so they can be argued."""

    n_people: int = Field(2_000, ge=1)
    n_accounts: int = Field(400, ge=1)
    seed: int = 7
    share_people_at_crm_accounts: float = Field(0.7, ge=0, le=1)
    share_people_already_contacts: float = Field(0.3, ge=0, le=1)
    # 1, 2, 3, 4 submissions per person.
    submission_weights: tuple[float, float, float, float] = (0.6, 0.25, 0.1, 0.05)
    personal_mailbox_rate: float = Field(0.10, ge=0, le=1)
    website_given_rate: float = Field(0.5, ge=0, le=1)
    role_address_rate: float = Field(0.01, ge=0, le=1)
    alias_domain_rate: float = Field(0.15, ge=0, le=1)
    plus_tag_rate: float = Field(0.08, ge=0, le=1)
    nickname_rate: float = Field(0.2, ge=0, le=1)
    name_typo_rate: float = Field(0.03, ge=0, le=1)
    email_typo_rate: float = Field(0.02, ge=0, le=1)
    company_typo_rate: float = Field(0.02, ge=0, le=1)
    company_missing_rate: float = Field(0.05, ge=0, le=1)
    # A division, a client or a former employer typed into the company field.
    company_other_rate: float = Field(0.02, ge=0, le=1)
    # Submitted from another employer (job change, consultant): new email domain and company.
    job_change_rate: float = Field(0.02, ge=0, le=1)
    # Country field answered with HQ or IP country rather than the person's own.
    country_variation_rate: float = Field(0.03, ge=0, le=1)
    phone_given_rate: float = Field(0.5, ge=0, le=1)
    # A given phone that is not the one on file (mobile vs desk line, new number): drawn from its own
    # random stream so every other column of a seed stays as it was before this rate existed.
    phone_change_rate: float = Field(0.15, ge=0, le=1)
    country_missing_rate: float = Field(0.05, ge=0, le=1)
    case_mess_rate: float = Field(0.3, ge=0, le=1)


@dataclass(frozen=True)
class IdentityDataset:
    """Labeled data: CRM-side tables plus leads, each with the truth columns."""

    accounts: pd.DataFrame  # account_id, name, domain, alias_domains, country
    account_domains: pd.DataFrame  # account_id, domain, is_primary
    contacts: pd.DataFrame  # record_id (= contact_id), account_id, normalized columns, truth
    leads: pd.DataFrame  # record_id (= event_id), source, received_at, normalized columns, truth

    def people(self) -> pd.DataFrame:
        """Contacts then leads in one frame: the input of a full person dedupe."""
        return pd.concat([self.contacts, self.leads], ignore_index=True)


@dataclass(frozen=True)
class _Account:
    account_id: str
    name: str
    domain: str
    aliases: tuple[str, ...]
    country: str
    in_crm: bool


@dataclass(frozen=True)
class _Person:
    person_id: str
    first: str
    last: str
    account: _Account
    email_pattern: str
    phone: str
    country: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _typo(rng: random.Random, text: str) -> str:
    """One keyboard-style slip: drop, double, swap or replace a character (never the first)."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1 :]


def _with_suffix(name: str, suffix: str) -> str:
    """Attach a legal suffix the way people type it: "Acme Inc.", "Acme, Inc.", or none."""
    if not suffix:
        return name
    return f"{name}{suffix}" if suffix.startswith(",") else f"{name} {suffix}"


def _mess_case(rng: random.Random, text: str, rate: float) -> str:
    if rng.random() >= rate:
        return text
    style = rng.randrange(3)
    padded = f" {text} " if rng.random() < 0.5 else text
    return (padded.upper(), padded.lower(), f"  {padded}")[style]


def _make_accounts(rng: random.Random, config: GeneratorConfig) -> list[_Account]:
    # Twice as many companies as CRM accounts: half the people work somewhere the CRM does not know.
    accounts: list[_Account] = []
    used_domains: set[str] = set()
    used_names: set[tuple[str, str]] = set()
    n_companies = config.n_accounts * 2
    # ~77k distinct names x 12 countries; past that the draw loop would never finish.
    attempts_left = n_companies * 50
    while len(accounts) < n_companies:
        attempts_left -= 1
        if attempts_left < 0:
            raise ValueError(f"cannot draw {n_companies:,} distinct companies; lower n_accounts")
        word, form = rng.choice(_COMPANY_WORDS).title(), rng.random()
        sector = rng.choice(_COMPANY_SECTORS).title()
        if form < 0.3:
            name = word
        elif form < 0.8:
            name = f"{word} {sector}"
        else:
            name = f"{word} {rng.choice(_COMPANY_WORDS).title()} {sector}"
        country = rng.choice(_COUNTRIES)
        # Same name in another country is a different company (and a precision trap), same name and
        # country would be indistinguishable for a person as well, so it is skipped.
        if (name, country) in used_names:
            continue
        tld = _COUNTRY_TLDS.get(country, "com")
        domain = f"{_slug(name)}.{tld}"
        if domain in used_domains:
            domain = f"{_slug(name)}{country.lower()}.{tld}"
        if domain in used_domains:
            continue
        aliases: list[str] = []
        if rng.random() < 0.3:
            aliases.append(f"{_slug(name)}-group.com" if tld != "com" else f"{_slug(name)}.io")
        if rng.random() < 0.1:
            aliases.append(f"{_slug(name)}hq.com")
        aliases = [a for a in aliases if a not in used_domains]
        used_domains.update([domain, *aliases])
        used_names.add((name, country))
        in_crm = len(accounts) % 2 == 0
        account_id = f"acc_{len(accounts) // 2:06d}" if in_crm else f"ext_{len(accounts) // 2:06d}"
        accounts.append(_Account(account_id, name, domain, tuple(aliases), country, in_crm))
    return accounts


def _make_people(rng: random.Random, config: GeneratorConfig, accounts: list[_Account]) -> list[_Person]:
    crm = [a for a in accounts if a.in_crm]
    other = [a for a in accounts if not a.in_crm]
    people = []
    for i in range(config.n_people):
        account = rng.choice(crm if rng.random() < config.share_people_at_crm_accounts else other)
        country = account.country if rng.random() < 0.9 else rng.choice(_COUNTRIES)
        prefix = _COUNTRY_PHONE.get(country, "1")
        phone = f"+{prefix}{rng.randrange(200, 999)}{rng.randrange(1_000_000, 9_999_999)}"
        pattern = rng.choice(("first.last", "first.last", "flast", "first", "firstl", "first_last"))
        people.append(
            _Person(
                f"per_{i:07d}",
                rng.choice(_FIRST_NAMES),
                rng.choice(_LAST_NAMES),
                account,
                pattern,
                phone,
                country,
            )
        )
    return people


def _local_part(first: str, last: str, pattern: str) -> str:
    first, last = _slug(first), _slug(last)
    return {
        "first.last": f"{first}.{last}",
        "flast": f"{first[0]}{last}",
        "first": first,
        "firstl": f"{first}{last[0]}",
        "first_last": f"{first}_{last}",
    }[pattern]


def _nicknames_by_canonical() -> dict[str, list[str]]:
    by_canonical: dict[str, list[str]] = {}
    for nickname, canonical in sorted(nickname_table().items()):
        by_canonical.setdefault(canonical, []).append(nickname)
    return by_canonical


def _contact_row(person: _Person) -> dict[str, object]:
    account = person.account
    email = f"{_local_part(person.first, person.last, person.email_pattern)}@{account.domain}"
    return {
        "record_id": f"con_{person.person_id[4:]}",
        "account_id": account.account_id,
        "email_key": email,
        "email_domain": account.domain,
        "is_free_email": False,
        "first_name_normalized": person.first.title(),
        "last_name_normalized": person.last.title(),
        "company_normalized": account.name.lower(),
        "website_domain": account.domain,
        "country_code": person.country,
        "phone_e164": person.phone,
        "true_person_id": person.person_id,
        "true_account_id": account.account_id,
    }


def _lead_row(
    rng: random.Random,
    config: GeneratorConfig,
    person: _Person,
    companies: list[_Account],
    nicknames: dict[str, list[str]],
    event_number: int,
    received_at: datetime,
) -> dict[str, object]:
    account = person.account
    if rng.random() < config.job_change_rate:
        account = rng.choice(companies)
    first = person.first
    if person.first in nicknames and rng.random() < config.nickname_rate:
        first = rng.choice(nicknames[person.first])
    if rng.random() < config.name_typo_rate:
        first = _typo(rng, first)
    last = _typo(rng, person.last) if rng.random() < config.name_typo_rate else person.last

    personal = rng.random() < config.personal_mailbox_rate
    if personal:
        local = rng.choice((f"{_slug(person.first)}.{_slug(person.last)}", f"{_slug(first)}{_slug(last)}"))
        if rng.random() < 0.4:
            local += str(rng.randrange(1, 99))
        domain = rng.choice(_FREE_MAIL)
    else:
        local = _local_part(person.first, person.last, person.email_pattern)
        domain = (
            rng.choice(account.aliases)
            if account.aliases and rng.random() < config.alias_domain_rate
            else account.domain
        )
        if rng.random() < config.role_address_rate:
            local = rng.choice(_ROLE_LOCALS)
    if rng.random() < config.email_typo_rate:
        local = _typo(rng, local)
    if rng.random() < config.plus_tag_rate:
        local += f"+{rng.choice(('news', 'leads', 'webinar', 'x'))}"
    email = _mess_case(rng, f"{local}@{domain}", config.case_mess_rate)

    company: str | None = _with_suffix(account.name, rng.choice(_LEGAL_SUFFIXES))
    if rng.random() < config.company_typo_rate:
        company = _typo(rng, company)
    if rng.random() < config.company_other_rate:
        company = _with_suffix(rng.choice(companies).name, rng.choice(_LEGAL_SUFFIXES))
    if rng.random() < config.company_missing_rate:
        company = None
    country: str | None = person.country
    if rng.random() < config.country_variation_rate:
        country = rng.choice(_COUNTRIES)
    if rng.random() < config.country_missing_rate:
        country = None

    website: str | None = None
    if rng.random() < config.website_given_rate:
        website = _mess_case(rng, account.domain, config.case_mess_rate)

    return {
        "record_id": f"evt_{event_number:08d}",
        "source": rng.choice(_SOURCES),
        "received_at": received_at,
        "email_key": email,
        "email_domain": domain,
        "is_free_email": personal,
        "first_name_normalized": _mess_case(rng, first.title(), config.case_mess_rate),
        "last_name_normalized": _mess_case(rng, last.title(), config.case_mess_rate),
        "company_normalized": None if company is None else _mess_case(rng, company, config.case_mess_rate),
        "website_domain": website,
        "country_code": country,
        "phone_e164": person.phone if rng.random() < config.phone_given_rate else None,
        "true_person_id": person.person_id,
        "true_account_id": account.account_id if account.in_crm else None,
    }


def generate_identity_dataset(config: GeneratorConfig | None = None) -> IdentityDataset:
    """Same config (including seed) -> identical frames, row for row."""
    config = config or GeneratorConfig()
    rng = random.Random(config.seed)
    accounts = _make_accounts(rng, config)
    people = _make_people(rng, config, accounts)
    nicknames = _nicknames_by_canonical()

    crm_accounts = [a for a in accounts if a.in_crm]
    accounts_df = pd.DataFrame(
        {
            "account_id": [a.account_id for a in crm_accounts],
            "name": [_with_suffix(a.name, rng.choice(_LEGAL_SUFFIXES)) for a in crm_accounts],
            "domain": [a.domain for a in crm_accounts],
            "alias_domains": [";".join(a.aliases) or None for a in crm_accounts],
            "country": [a.country for a in crm_accounts],
        }
    )
    account_domains_df = pd.DataFrame(
        [
            {"account_id": a.account_id, "domain": d, "is_primary": d == a.domain}
            for a in crm_accounts
            for d in (a.domain, *a.aliases)
        ]
    )

    contacts = [
        _contact_row(p)
        for p in people
        if p.account.in_crm and rng.random() < config.share_people_already_contacts
    ]

    start = datetime(2025, 1, 1)
    submissions: list[tuple[datetime, _Person]] = []
    for person in people:
        count = rng.choices((1, 2, 3, 4), weights=config.submission_weights)[0]
        for _ in range(count):
            submissions.append((start + timedelta(minutes=rng.randrange(0, 60 * 24 * 180)), person))
    submissions.sort(key=lambda s: (s[0], s[1].person_id))
    leads = [
        _lead_row(rng, config, person, accounts, nicknames, n, at)
        for n, (at, person) in enumerate(submissions, start=1)
    ]

    phones = random.Random(f"{config.seed}:phone")
    for lead in leads:
        if lead["phone_e164"] is not None and phones.random() < config.phone_change_rate:
            lead["phone_e164"] = f"{lead['phone_e164'][:-7]}{phones.randrange(1_000_000, 9_999_999)}"

    contacts_df = pd.DataFrame(contacts, columns=list(_contact_row(people[0]).keys()))
    leads_df = pd.DataFrame(leads)
    return IdentityDataset(accounts_df, account_domains_df, contacts_df, leads_df)
