"""Fixtures shared by the CRM tests: every contract test runs against the embedded CRM and the fake."""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_test_helpers import load, owner

from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import Account, Contact
from integrations.crm.port import CrmPort


@pytest.fixture(params=["embedded", "fake"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> CrmPort:
    if request.param == "embedded":
        return EmbeddedCrm(tmp_path / "crm.sqlite")
    return FakeCrm()


@pytest.fixture
def seeded_crm(crm: CrmPort) -> CrmPort:
    """Two active reps, one who left (inactive) but still owns the one customer account, one contact."""
    load(
        crm,
        owner("OWN-1"),
        owner("OWN-2"),
        owner("OWN-9", active=False),
        Account(
            account_id="ACC-1",
            name="Acme",
            domain="acme.com",
            alias_domains=["acme.io"],
            status="customer",
            owner_id="OWN-9",
        ),
        Contact(
            contact_id="CON-1",
            account_id="ACC-1",
            first_name="Dana",
            last_name="Doe",
            email="dana@acme.com",
            owner_id="OWN-1",
        ),
    )
    return crm
