"""The demo CRM imports cleanly and the demo leads exercise the situations they claim to."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from integrations.crm.csv_import import import_crm_csvs
from integrations.crm.port import CrmPort

DEMO = Path(__file__).resolve().parents[3] / "demo"
SOURCES = {
    "web_form",
    "demo_request",
    "pricing_inquiry",
    "chat",
    "email_reply",
    "partner_referral",
    "webinar_registration",
}


def _demo_files() -> dict[str, Path]:
    return {
        kind: DEMO / "crm" / f"{kind}.csv" for kind in ("owners", "accounts", "contacts", "opportunities")
    }


@pytest.fixture
def demo_crm(crm: CrmPort) -> CrmPort:
    report = import_crm_csvs(crm, **_demo_files())
    assert report.rejections == [], report.format()
    assert all(not file.ignored_columns for file in report.files)
    return crm


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_demo_leads", DEMO / "generate_demo_leads.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_leads() -> list[dict[str, Any]]:
    lines = (DEMO / "leads" / "demo_leads.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _by_scenario(leads: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [lead for lead in leads if lead["extra"]["demo_scenario"].startswith(prefix)]


def test_demo_crm_imports_with_zero_rejections(demo_crm: CrmPort) -> None:
    assert (len(demo_crm.read_owners()), len(demo_crm.read_accounts()), len(demo_crm.read_contacts())) == (
        13,
        40,
        60,
    )
    assert len(demo_crm.read_open_opportunities()) == 11


def test_demo_crm_has_inactive_owners_one_of_whom_still_owns_an_account(demo_crm: CrmPort) -> None:
    inactive = {owner.owner_id for owner in demo_crm.read_owners() if not owner.active}

    assert len(inactive) >= 2
    assert any(account.owner_id in inactive for account in demo_crm.read_accounts())


def test_demo_crm_covers_regions_teams_and_emea_fintech_enterprises(demo_crm: CrmPort) -> None:
    owners = demo_crm.read_owners()
    regions = {owner.owner_id: owner.region for owner in owners}
    accounts = demo_crm.read_accounts()

    assert set(regions.values()) == {"AMER", "EMEA", "APAC"}
    assert {"strategic", "partners", "apac", "emea_enterprise", "amer_smb"} <= {
        owner.team for owner in owners
    }
    assert any(
        a.industry == "fintech" and (a.employees or 0) > 1000 and a.country in {"DE", "GB", "CH"}
        for a in accounts
    )
    assert {a.status for a in accounts} == {"customer", "prospect"}
    assert sum(1 for a in accounts if a.alias_domains) >= 5
    assert any(a.owner_id is None for a in accounts if a.status == "prospect")


def test_committed_demo_leads_are_exactly_what_the_generator_writes(generator: ModuleType) -> None:
    committed = (DEMO / "leads" / "demo_leads.jsonl").read_text(encoding="utf-8")

    assert generator.render(generator.build_events()) == committed


def test_demo_leads_are_clean_v1_events(demo_leads: list[dict[str, Any]]) -> None:
    assert 55 <= len(demo_leads) <= 70
    assert len({lead["event_id"] for lead in demo_leads}) == len(demo_leads)
    assert {lead["source"] for lead in demo_leads} == SOURCES
    for lead in demo_leads:
        assert datetime.fromisoformat(lead["received_at"]).tzinfo is not None


def test_demo_leads_reach_existing_contacts_and_customer_alias_domains(
    demo_crm: CrmPort, demo_leads: list[dict[str, Any]]
) -> None:
    contact_emails = {c.email.lower() for c in demo_crm.read_contacts() if c.email}
    accounts = demo_crm.read_accounts()
    alias_domains = {d for a in accounts if a.status == "customer" for d in a.alias_domains}
    primary_domains = {a.domain for a in accounts if a.status == "customer"}

    existing = _by_scenario(demo_leads, "existing_customer_contact")
    assert len(existing) >= 5
    for lead in existing:
        local, domain = lead["email"].lower().split("@")
        assert f"{local.split('+')[0]}@{domain}" in contact_emails
    for lead in _by_scenario(demo_leads, "new_person_customer_alias_domain"):
        assert lead["email"].split("@")[1] in alias_domains
        assert lead["email"].lower() not in contact_emails
    for lead in _by_scenario(demo_leads, "new_person_customer_domain"):
        assert lead["email"].split("@")[1] in primary_domains


def test_demo_leads_carry_each_kind_of_spam_and_messy_input(demo_leads: list[dict[str, Any]]) -> None:
    emails = [lead["email"] for lead in demo_leads]
    countries = {lead.get("country") for lead in demo_leads}
    employees = {lead.get("employees") for lead in demo_leads}

    assert any(lead.get("honeypot") for lead in demo_leads)
    assert any(email.endswith("@mailinator.com") for email in emails)
    assert "test@test.com" in emails
    assert any(lead.get("message", "").count("https://") >= 5 for lead in demo_leads)
    assert {"USA", "United Kingdom", "Deutschland", "de"} <= countries
    assert {"51-200", "1000+", "about 300"} <= employees
    free_mail = [lead for lead in demo_leads if lead["email"].lower().endswith("@gmail.com")]
    assert any(lead.get("company") for lead in free_mail)
    assert any(not lead.get("company") for lead in free_mail)
    assert len(_by_scenario(demo_leads, "partner_referral")) >= 2
    assert all(lead["partner"]["id"] for lead in _by_scenario(demo_leads, "partner_referral"))
    assert _by_scenario(demo_leads, "new_company_no_territory")


def test_demo_repeat_submissions_are_one_person_written_three_ways(demo_leads: list[dict[str, Any]]) -> None:
    repeats = _by_scenario(demo_leads, "repeat_submission")
    keys = Counter(lead["email"].lower().split("+")[0].split("@")[0].replace(".", "") for lead in repeats)

    assert keys == Counter({"sarahconnor": 3})
    assert len({lead["email"] for lead in repeats}) == 3
