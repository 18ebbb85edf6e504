"""Opt-in tests against real HubSpot and Salesforce sandboxes: the same exactly-once behaviour the contract
servers reproduce, checked against the real APIs.

They run whenever their credentials are set, and otherwise skip with the reason shown in the summary:

- HubSpot: LEADOPS_LIVE_HUBSPOT_TOKEN (a private-app token of a test portal with the crm.objects.contacts,
  crm.objects.owners and crm.objects.companies read/write scopes). Optional LEADOPS_LIVE_HUBSPOT_HOST.
- Salesforce: LEADOPS_LIVE_SALESFORCE_LOGIN_URL (the org's My Domain URL), LEADOPS_LIVE_SALESFORCE_CLIENT_ID
  and LEADOPS_LIVE_SALESFORCE_CLIENT_SECRET (an app with the client-credentials flow and a run-as user).

The portal or org needs the LeadOps custom properties/fields listed in integrations/crm/hubspot.py and
salesforce.py. Every record a test makes carries a fresh external id and is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import hubspot
import pytest
import requests
from simple_salesforce import Salesforce

from integrations.crm.hubspot import DEFAULT_HOST, HubSpotCrm
from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.salesforce import SalesforceCrm

HUBSPOT_TOKEN = os.environ.get("LEADOPS_LIVE_HUBSPOT_TOKEN", "")
HUBSPOT_HOST = os.environ.get("LEADOPS_LIVE_HUBSPOT_HOST", DEFAULT_HOST)
SALESFORCE = {
    name: os.environ.get(f"LEADOPS_LIVE_SALESFORCE_{name.upper()}", "")
    for name in ("login_url", "client_id", "client_secret")
}

needs_hubspot = pytest.mark.skipif(
    not HUBSPOT_TOKEN, reason="live HubSpot sandbox not configured: LEADOPS_LIVE_HUBSPOT_TOKEN is not set"
)
needs_salesforce = pytest.mark.skipif(
    not all(SALESFORCE.values()),
    reason="live Salesforce sandbox not configured: set LEADOPS_LIVE_SALESFORCE_LOGIN_URL, "
    "LEADOPS_LIVE_SALESFORCE_CLIENT_ID and LEADOPS_LIVE_SALESFORCE_CLIENT_SECRET",
)
DUE = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture
def run_id() -> str:
    return f"leadops-live-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hubspot_crm() -> Iterator[tuple[HubSpotCrm, list[tuple[str, str]]]]:
    created: list[tuple[str, str]] = []
    yield HubSpotCrm(HUBSPOT_TOKEN, host=HUBSPOT_HOST), created
    client = hubspot.Client.create(access_token=HUBSPOT_TOKEN, host=HUBSPOT_HOST)
    for object_name, record_id in reversed(created):
        client.crm.objects.basic_api.archive(object_name, record_id)


@pytest.fixture
def salesforce_crm() -> Iterator[tuple[SalesforceCrm, list[tuple[str, str]]]]:
    created: list[tuple[str, str]] = []
    yield (
        SalesforceCrm(
            SALESFORCE["client_id"], SALESFORCE["client_secret"], login_url=SALESFORCE["login_url"]
        ),
        created,
    )
    token = requests.post(
        f"{SALESFORCE['login_url'].rstrip('/')}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SALESFORCE["client_id"],
            "client_secret": SALESFORCE["client_secret"],
        },
        timeout=30,
    ).json()
    sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], version="59.0")
    for sobject, record_id in reversed(created):
        getattr(sf, sobject).delete(record_id)


@needs_hubspot
def test_live_hubspot_upserts_once_and_writes_a_task_and_a_note_once(
    hubspot_crm: tuple[HubSpotCrm, list[tuple[str, str]]], run_id: str
) -> None:
    crm, created = hubspot_crm
    assert crm.read_owners(), "the sandbox portal has at least one owner"

    first = crm.upsert_lead(run_id, LeadFields(email=f"{run_id}@example.org", first_name="Live"))
    created.append(("contacts", first.record_id))
    again = crm.upsert_lead(run_id, LeadFields(email=f"{run_id}@example.org", first_name="Live"))
    task = crm.create_task(f"{run_id}:task", first.record_id, "LeadOps live test", DUE, None)
    created.append(("tasks", task.record_id))
    note = crm.add_note(f"{run_id}:note", first.record_id, "LeadOps live test note")
    created.append(("notes", note.record_id))

    assert first.created and again.record_id == first.record_id and not again.changed
    assert crm.create_task(f"{run_id}:task", first.record_id, "again", DUE, None).record_id == task.record_id
    assert crm.add_note(f"{run_id}:note", first.record_id, "again").record_id == note.record_id
    assert set(crm.read_by_external_ids(ObjectType.LEAD, [run_id, f"{run_id}-absent"])) == {run_id}


@needs_salesforce
def test_live_salesforce_upserts_a_lead_once_and_writes_a_task_once(
    salesforce_crm: tuple[SalesforceCrm, list[tuple[str, str]]], run_id: str
) -> None:
    crm, created = salesforce_crm
    assert any(owner.active for owner in crm.read_owners())

    first = crm.upsert_lead(
        run_id, LeadFields(email=f"{run_id}@example.org", last_name="Live", company="LeadOps")
    )
    created.append(("Lead", first.record_id))
    updated = crm.upsert_lead(run_id, LeadFields(status="routed"))
    task = crm.create_task(f"{run_id}:task", first.record_id, "LeadOps live test", DUE, None)
    created.append(("Task", task.record_id))

    assert first.created and not updated.created and updated.record_id == first.record_id
    assert updated.version == first.version + 1
    assert crm.create_task(f"{run_id}:task", first.record_id, "again", DUE, None).record_id == task.record_id
    assert set(crm.read_by_external_ids(ObjectType.LEAD, [run_id])) == {run_id}
