"""Start the HubSpot and Salesforce contract servers seeded like the contract tests' `seeded_crm`.

A plain module (conftest files are not importable by name). Owners, accounts and opportunities are seeded on
the server, not through `import_records`: in HubSpot and Salesforce they are users and records of the CRM
itself, which LeadOps reads and never loads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from contract_server_base import FaultPlan
from hubspot_server import HubSpotServer
from salesforce_server import SalesforceServer

from integrations.crm.hubspot import HubSpotCrm
from integrations.crm.models import LeadFields
from integrations.crm.port import CrmPort, CrmTransientError
from integrations.crm.salesforce import SalesforceCrm

HUBSPOT_TOKEN = "pat-test-token"
SALESFORCE_CLIENT_ID = "3MVG-test-client"
SALESFORCE_CLIENT_SECRET = "test-client-secret-8c1f"
# Far above a loopback round trip (~2-5 ms) and far below the servers' held "slow" answers.
TEST_TIMEOUT_SECONDS = 0.25

DUE = datetime(2025, 11, 24, 10, 0, tzinfo=UTC)

_T = TypeVar("_T")


def seed_hubspot(server: HubSpotServer) -> None:
    for owner_id in ("OWN-1", "OWN-2", "OWN-9"):
        server.seed_owner(
            owner_id,
            f"{owner_id.lower()}@vendor.io",
            f"Rep {owner_id}",
            "emea_smb",
            archived=owner_id == "OWN-9",
        )
    server.seed_object(
        "companies",
        "ACC-1",
        {
            "name": "Acme",
            "domain": "acme.com",
            "hs_additional_domains": "acme.io",
            "lifecyclestage": "customer",
            "hubspot_owner_id": "OWN-9",
        },
    )
    server.seed_object(
        "contacts",
        "CON-1",
        {
            "associatedcompanyid": "ACC-1",
            "firstname": "Dana",
            "lastname": "Doe",
            "email": "dana@acme.com",
            "hubspot_owner_id": "OWN-1",
        },
    )


def seed_salesforce(server: SalesforceServer) -> None:
    for owner_id in ("OWN-1", "OWN-2", "OWN-9"):
        server.seed(
            "User",
            owner_id,
            Name=f"Rep {owner_id}",
            Email=f"{owner_id.lower()}@vendor.io",
            IsActive=owner_id != "OWN-9",
            Department="emea_smb",
        )
    server.seed(
        "Account", "ACC-1", Name="Acme", Website="https://www.acme.com", Type="Customer", OwnerId="OWN-9"
    )
    server.seed(
        "Contact",
        "CON-1",
        AccountId="ACC-1",
        FirstName="Dana",
        LastName="Doe",
        Email="dana@acme.com",
        OwnerId="OWN-1",
    )


@contextmanager
def hubspot(
    faults: FaultPlan | None = None, **server_options: object
) -> Iterator[tuple[HubSpotServer, HubSpotCrm]]:
    with HubSpotServer(token=HUBSPOT_TOKEN, faults=faults, **server_options) as server:
        seed_hubspot(server)
        yield server, HubSpotCrm(HUBSPOT_TOKEN, host=server.url, timeout_seconds=TEST_TIMEOUT_SECONDS)


@contextmanager
def salesforce(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, faults: FaultPlan | None = None, **server_options: object
) -> Iterator[tuple[SalesforceServer, SalesforceCrm]]:
    with SalesforceServer(
        client_id=SALESFORCE_CLIENT_ID,
        client_secret=SALESFORCE_CLIENT_SECRET,
        faults=faults,
        **server_options,
    ) as server:
        # The image exports REQUESTS_CA_BUNDLE, which requests prefers over session.verify: point it at the
        # server's test CA for this test only.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.write_ca(tmp_path)))
        seed_salesforce(server)
        yield (
            server,
            SalesforceCrm(
                SALESFORCE_CLIENT_ID,
                SALESFORCE_CLIENT_SECRET,
                login_url=server.url,
                timeout_seconds=TEST_TIMEOUT_SECONDS,
            ),
        )


def until_done(
    write: Callable[[], _T], *, attempts: int = 30, seen: list[CrmTransientError] | None = None
) -> _T:
    """Retry a write through transient errors, as the outbox does; bounded so a broken adapter fails."""
    for _ in range(attempts - 1):
        try:
            return write()
        except CrmTransientError as error:
            if seen is not None:
                seen.append(error)
            # Retry-After is asserted on, not slept: the test server's 1 s would make the test slow.
            time.sleep(0.001)
    return write()


def write_leads_through_faults(crm: CrmPort, leads: int) -> list[CrmTransientError]:
    """The outbox's writes for `leads` leads (lead, first-touch task, decision note), each retried through
    transient errors; returns the transient errors met. Every other lead has no email (a plain create)."""
    seen: list[CrmTransientError] = []
    for n in range(leads):
        fields = LeadFields(email=f"p{n}@example.org", owner_id="OWN-1", status="routed")
        if n % 2:
            fields = LeadFields(first_name=f"P{n}", owner_id="OWN-1", status="routed")
        lead = until_done(partial(crm.upsert_lead, f"lead-{n}", fields), seen=seen)
        until_done(
            partial(crm.create_task, f"lead-{n}:first_touch", lead.record_id, "Call", DUE, "OWN-1"), seen=seen
        )
        note = f"routed by rule emea_smb: country DE, 120 employees (evidence: lead-{n})"
        until_done(partial(crm.add_note, f"lead-{n}:decision", lead.record_id, note), seen=seen)
    return seen
