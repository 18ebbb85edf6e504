"""The CRM and the inbound events the dbt tests route: one small readable case per routing rule.

Owners exist for the teams of both policies (policies/default and policies/example_apac_first), the way a
CRM holds every rep whichever routing policy is active.
"""

from __future__ import annotations

from typing import Any

from leadops_dbt_warehouse import event


def _owner(owner_id: str, name: str, team: str, region: str, *, active: bool = True, capacity: int = 25):
    email = name.lower().replace(" ", ".") + "@ourco.example"
    return {
        "owner_id": owner_id,
        "name": name,
        "email": email,
        "team": team,
        "region": region,
        "active": active,
        "capacity": capacity,
    }


OWNERS = [
    # amer_smb: three active reps, one who has left (must never receive a lead), one parked (capacity 0).
    _owner("own_ava", "Ava Smith", "amer_smb", "AMER"),
    _owner("own_ben", "Ben Jones", "amer_smb", "AMER"),
    _owner("own_cara", "Cara Lee", "amer_smb", "AMER"),
    _owner("own_dan", "Dan Gone", "amer_smb", "AMER", active=False),
    _owner("own_pia", "Pia Parked", "amer_smb", "AMER", capacity=0),
    _owner("own_alice", "Alice Account", "amer_enterprise", "AMER"),
    _owner("own_paula", "Paula Prospect", "amer_mid_market", "AMER"),
    _owner("own_gary", "Gary Left", "emea_mid_market", "EMEA", active=False),
    _owner("own_eva", "Eva Weber", "emea_mid_market", "EMEA"),
    # emea_enterprise has nobody active: its leads escalate (no_active_owner).
    _owner("own_erik", "Erik Former", "emea_enterprise", "EMEA", active=False),
    _owner("own_sam", "Sam Strategic", "strategic", "EMEA"),
    _owner("own_pat", "Pat Partner", "partners", "GLOBAL"),
    _owner("own_quinn", "Quinn Partner", "partners", "GLOBAL"),
    _owner("own_aiko", "Aiko Tanaka", "apac", "APAC"),
    # Teams of policies/example_apac_first.
    _owner("own_nora", "Nora North", "na_velocity", "NA"),
    _owner("own_ned", "Ned North", "na_velocity", "NA"),
    _owner("own_eli", "Eli Europe", "eu_sales", "EU"),
    _owner("own_gia", "Gia Growth", "na_growth", "NA"),
    _owner("own_alma", "Alma Alliances", "alliances", "GLOBAL"),
    _owner("own_kai", "Kai Pacific", "apac_first", "APAC"),
]

ACCOUNTS = [
    {
        "account_id": "acc_acme",
        "name": "Acme Corp",
        "domain": "acme.com",
        "alias_domains": "acme.io",
        "country": "US",
        "employees": 5000,
        "industry": "Software",
        "status": "customer",
        "owner_id": "own_alice",
    },
    {
        "account_id": "acc_globex",
        "name": "Globex GmbH",
        "domain": "globex.de",
        "country": "DE",
        "employees": 800,
        "industry": "Manufacturing",
        "status": "customer",
        "owner_id": "own_gary",
    },
    {
        "account_id": "acc_initech",
        "name": "Initech",
        "domain": "initech.com",
        "country": "US",
        "employees": 300,
        "industry": "Software",
        "status": "prospect",
        "owner_id": "own_paula",
    },
    {
        "account_id": "acc_finbank",
        "name": "FinBank plc",
        "domain": "finbank.co.uk",
        "country": "GB",
        "employees": 2500,
        "industry": "Fintech",
        "status": "prospect",
        "owner_id": None,
    },
    {
        "account_id": "acc_umbrella",
        "name": "Umbrella AG",
        "domain": "umbrella.de",
        "alias_domains": "umbrella-corp.com",
        "country": "DE",
        "employees": 1500,
        "industry": "Pharma",
        "status": "prospect",
        "owner_id": None,
    },
]

ACCOUNT_DOMAINS = [
    {"account_id": "acc_acme", "domain": "acme.com", "is_primary": True},
    {"account_id": "acc_acme", "domain": "acme.io", "is_primary": False},
    {"account_id": "acc_globex", "domain": "globex.de", "is_primary": True},
    {"account_id": "acc_initech", "domain": "initech.com", "is_primary": True},
    {"account_id": "acc_finbank", "domain": "finbank.co.uk", "is_primary": True},
    {"account_id": "acc_umbrella", "domain": "umbrella.de", "is_primary": True},
    {"account_id": "acc_umbrella", "domain": "umbrella-corp.com", "is_primary": False},
]

CONTACTS = [
    {
        "contact_id": "con_mary",
        "account_id": "acc_initech",
        "first_name": "Mary",
        "last_name": "Major",
        # Folded like a lead's email_key: m.a.r.y.major+demo@googlemail.com finds this contact.
        "email": "Mary.Major@gmail.com",
        "title": "CTO",
        "phone": None,
        "owner_id": "own_paula",
    },
]

OPPORTUNITIES = [
    {"opportunity_id": "opp_1", "account_id": "acc_initech", "stage": "discovery", "owner_id": "own_paula"},
]

CRM: dict[str, list[dict[str, Any]]] = {
    "owners": OWNERS,
    "accounts": ACCOUNTS,
    "account_domains": ACCOUNT_DOMAINS,
    "contacts": CONTACTS,
    "opportunities": OPPORTUNITIES,
}


def _smb_domain(number: int, batch_id: str) -> str:
    return f"startup{number}-{batch_id}.example"


# Distinct people: near-identical generated names ("Sol Founder0", "Sol Founder1") would rightly look like
# one person with typos to the identity model.
_FOUNDERS = {
    "batch-1": [("Sol", "Okafor"), ("Mira", "Lindqvist"), ("Tomas", "Reyes"), ("Hana", "Kowalczyk")],
    "batch-2": [("Ivo", "Brandt"), ("Lea", "Moreau"), ("Raj", "Iyer"), ("Ana", "Costa"), ("Ben", "Adeyemi")],
    "batch-3": [("Yuki", "Sato"), ("Omar", "Haddad")],
}


def _smb_lead(number: int, minute: int, batch_id: str) -> dict[str, Any]:
    """A US 40-person company (enrichment says so, see FIRMOGRAPHICS): territory AMER x smb."""
    first_name, last_name = _FOUNDERS[batch_id][number]
    return event(
        f"evt_{batch_id}_smb_{number}",
        minute,
        email=f"founder{number}@{_smb_domain(number, batch_id)}",
        first_name=first_name,
        last_name=last_name,
        company=f"{last_name} Ventures",
        country_code="US",
        employees_min=40,
        batch_id=batch_id,
    )


# What the enrichment step found per company domain: self-reported employee counts never set a segment.
FIRMOGRAPHICS = [
    *[
        {"domain": _smb_domain(number, batch_id), "employees": 40, "industry": "software"}
        for batch_id, count in (("batch-1", 4), ("batch-2", 5), ("batch-3", 2))
        for number in range(count)
    ],
    {"domain": "mittelstand.example", "employees": 450, "industry": "manufacturing"},
    {"domain": "kaisha.example", "employees": 80, "industry": "retail"},
    {"domain": "smallshop.example", "employees": 30, "industry": "retail"},
]

# One lead per rule; the key is what the tests look the lead up by (its email, or event id).
BATCH_1 = [
    event(
        "evt_spam_bot",
        1,
        email="bot@spam-farm.test",
        country_code="US",
        employees_min=10,
        spam_signals=["honeypot_filled", "gibberish_message"],
    ),
    event("evt_no_contact", 2, first_name="Anon", country_code="US", employees_min=10),
    event(
        "evt_customer",
        3,
        email="jane@acme.com",
        first_name="Jane",
        last_name="Buyer",
        company="Acme",
        country_code="US",
        employees_min=20,
        phone_e164="+14155550100",
    ),
    # A customer contact who also came through a partner: existing_customer (20) beats partner_referral (50).
    event(
        "evt_customer_via_partner",
        4,
        email="joe@acme.io",
        first_name="Joe",
        last_name="Alias",
        country_code="US",
        source="partner_referral",
        partner_id="ptn_7",
        partner_name="Channel Co",
    ),
    event("evt_inactive_owner", 5, email="hans@globex.de", first_name="Hans", country_code="DE"),
    event("evt_prospect", 6, email="pete@initech.com", first_name="Pete", country_code="US"),
    # Contact match through the folded key (googlemail, dots, +tag) on a free-mail address.
    event("evt_contact", 7, email="m.a.r.y.major+demo@googlemail.com", first_name="Mary", country_code="US"),
    event(
        "evt_partner",
        8,
        email="lena@smallshop.example",
        first_name="Lena",
        country_code="US",
        employees_min=30,
        source="partner_referral",
        partner_name="Channel Co",
    ),
    event("evt_special", 9, email="fiona@finbank.co.uk", first_name="Fiona", country_code="GB"),
    event(
        "evt_no_territory",
        10,
        email="ivan@example.ru",
        first_name="Ivan",
        country_code="RU",
        employees_min=50,
    ),
    # Matched by its website (email is free mail): Umbrella, 1,500 employees in DE -> emea_enterprise,
    # whose only rep has left.
    event(
        "evt_no_active_owner",
        11,
        email="ulla.umbrella@gmail.com",
        first_name="Ulla",
        website_domain="umbrella-corp.com",
        country_code="DE",
    ),
    event(
        "evt_emea_mid",
        12,
        email="mia@mittelstand.example",
        first_name="Mia",
        country_code="DE",
        employees_min=450,
        source="demo_request",
    ),
    event(
        "evt_japan",
        13,
        email="ken@kaisha.example",
        first_name="Ken",
        country_code="JP",
        employees_min=80,
    ),
    *[_smb_lead(number, 20 + number, "batch-1") for number in range(4)],
]

# Batch 2: five more smb leads, and Jane writes in again from a second form with a new job title.
BATCH_2 = [
    *[_smb_lead(number, 100 + number, "batch-2") for number in range(5)],
    event(
        "evt_customer_again",
        110,
        email="Jane@Acme.com",
        first_name="Jane",
        last_name="Buyer",
        company="Acme Corp",
        country_code="US",
        source="demo_request",
        batch_id="batch-2",
    ),
]

# Batch 3: two more smb leads.
BATCH_3 = [_smb_lead(number, 200 + number, "batch-3") for number in range(2)]
