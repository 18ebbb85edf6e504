"""The CrmPort contract tests, run against the HubSpot and Salesforce adapters on their contract servers.

The test functions are the ones in test_crm_contract.py, imported unchanged. Left out, because they pin the
embedded store rather than the port: generated ids of the form LEAD-000001 (these CRMs mint their own), the
CSV import keeping CSV ids (HubSpot and Salesforce own their owners, accounts and deals: `import_records`
refuses them), owners' capacity (neither CRM has one) and the SQLite transaction. The port-level halves of
two of them are below.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hubspot_server
import pytest
import salesforce_server
from remote_crm_helpers import hubspot, salesforce
from test_crm_contract import (
    test_a_change_bumps_version_and_updated_at_and_a_repeat_changes_nothing,
    test_a_second_add_note_with_the_same_external_id_creates_nothing,
    test_a_second_create_task_with_the_same_external_id_returns_the_first_task,
    test_a_task_without_owner_is_created_unassigned,
    test_assign_owner_moves_the_record_and_bumps_its_version_once,
    test_assign_owner_on_a_missing_record_or_wrong_type_is_permanent,
    test_assign_owner_refuses_inactive_and_unknown_owners,
    test_contacts_the_pipeline_creates_are_read_back_with_the_imported_ones,
    test_create_task_refuses_inactive_owner_and_missing_parent,
    test_get_record_finds_by_record_id_or_external_id_within_its_type,
    test_inactive_owner_never_receives_a_lead,
    test_read_by_external_ids_returns_the_held_records_of_that_type_and_omits_the_rest,
    test_read_updated_returns_what_changed_since_with_the_crms_updated_at,
    test_task_due_time_is_stored_in_utc_and_naive_times_are_taken_as_utc,
    test_the_adapter_implements_every_port_method,
    test_upsert_keeps_fields_left_out_and_clears_fields_passed_as_none,
    test_upserting_the_same_external_id_twice_keeps_one_lead,
)

from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.port import CrmPermanentError, CrmPort

CONTRACT_TESTS = (
    test_a_change_bumps_version_and_updated_at_and_a_repeat_changes_nothing,
    test_a_second_add_note_with_the_same_external_id_creates_nothing,
    test_a_second_create_task_with_the_same_external_id_returns_the_first_task,
    test_a_task_without_owner_is_created_unassigned,
    test_assign_owner_moves_the_record_and_bumps_its_version_once,
    test_assign_owner_on_a_missing_record_or_wrong_type_is_permanent,
    test_assign_owner_refuses_inactive_and_unknown_owners,
    test_contacts_the_pipeline_creates_are_read_back_with_the_imported_ones,
    test_create_task_refuses_inactive_owner_and_missing_parent,
    test_get_record_finds_by_record_id_or_external_id_within_its_type,
    test_inactive_owner_never_receives_a_lead,
    test_read_by_external_ids_returns_the_held_records_of_that_type_and_omits_the_rest,
    test_read_updated_returns_what_changed_since_with_the_crms_updated_at,
    test_task_due_time_is_stored_in_utc_and_naive_times_are_taken_as_utc,
    test_the_adapter_implements_every_port_method,
    test_upsert_keeps_fields_left_out_and_clears_fields_passed_as_none,
    test_upserting_the_same_external_id_twice_keeps_one_lead,
)


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CrmPort]:
    """The contract's seed (two active reps, one inactive owning the customer account, one contact)."""
    if request.param == "hubspot":
        with hubspot() as (_, adapter):
            yield adapter
    else:
        with salesforce(monkeypatch, tmp_path) as (_, adapter):
            yield adapter


@pytest.fixture
def seeded_crm(crm: CrmPort) -> CrmPort:
    return crm


def test_a_rejected_write_leaves_no_trace(seeded_crm: CrmPort) -> None:
    with pytest.raises(CrmPermanentError, match="unknown account ACC-404"):
        seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", account_id="ACC-404"))

    assert seeded_crm.get_record(ObjectType.LEAD, external_id="lead-1") is None
    assert seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com")).created


def test_reads_return_the_crms_own_records_with_inactive_owners_marked(seeded_crm: CrmPort) -> None:
    owners = {owner.owner_id: owner for owner in seeded_crm.read_owners()}
    (account,) = seeded_crm.read_accounts()

    assert owners["OWN-9"].active is False and owners["OWN-1"].active is True
    assert account.domain == "acme.com" and account.owner_id == "OWN-9" and account.status == "customer"


def test_the_crm_refuses_to_import_records_it_owns(seeded_crm: CrmPort) -> None:
    from crm_test_helpers import owner

    (outcome,) = seeded_crm.import_records([owner("OWN-5")])

    assert isinstance(outcome, CrmPermanentError) and "managed in" in str(outcome)


def test_accounts_are_read_by_record_id_and_their_owner_moves(seeded_crm: CrmPort) -> None:
    account = seeded_crm.get_record(ObjectType.ACCOUNT, record_id="ACC-1")

    moved = seeded_crm.assign_owner(ObjectType.ACCOUNT, "ACC-1", "OWN-2")
    again = seeded_crm.assign_owner(ObjectType.ACCOUNT, "ACC-1", "OWN-2")

    assert account is not None and account.fields["domain"] == "acme.com"
    assert account.fields["owner_id"] == "OWN-9"
    assert moved.fields["owner_id"] == "OWN-2" and moved.changed and not again.changed
    assert seeded_crm.get_record(ObjectType.ACCOUNT, record_id="ACC-404") is None
    assert seeded_crm.read_by_external_ids(ObjectType.ACCOUNT, ["ACC-1"]) == {}


def test_hubspot_read_updated_finds_a_closed_deal_by_search_and_an_archived_owner() -> None:
    with hubspot() as (server, adapter):
        for deal_id in ("D-1", "D-2"):
            server.seed_object(
                "deals",
                deal_id,
                {"dealname": "Renewal", "dealstage": "appointmentscheduled", "hubspot_owner_id": "OWN-1"},
                {"companies": ["ACC-1"]},
            )
        opened = adapter.read_updated(ObjectType.OPPORTUNITY)
        since = datetime.now(UTC)
        time.sleep(0.002)  # the server keeps milliseconds
        deal = server.objects["deals"]["D-1"]
        deal["properties"]["dealstage"] = "closedwon"
        deal["updatedAt"] = hubspot_server._now()
        server.owners["OWN-2"].update(archived=True, updatedAt=hubspot_server._now())

        (closed,) = adapter.read_updated(ObjectType.OPPORTUNITY, since)
        owners = adapter.read_updated(ObjectType.OWNER, since)

    assert [(item.record.opportunity_id, item.record.account_id) for item in opened] == [
        ("D-1", "ACC-1"),
        ("D-2", "ACC-1"),
    ]
    assert closed.record.opportunity_id == "D-1"
    assert closed.record.stage == "closed_won" and not closed.record.is_open
    assert [(item.record.owner_id, item.record.active) for item in owners] == [("OWN-2", False)]


def test_salesforce_read_updated_queries_by_systemmodstamp_and_sees_an_opportunity_close(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with salesforce(monkeypatch, tmp_path) as (server, adapter):
        server.seed(
            "Opportunity", "006000000000001AAA", Name="Renewal", AccountId="ACC-1", StageName="Prospecting"
        )
        (opened,) = adapter.read_updated(ObjectType.OPPORTUNITY)
        since = datetime.now(UTC)
        server.records["Opportunity"]["006000000000001AAA"].update(
            StageName="Closed Won", LastModifiedDate=salesforce_server._now()
        )
        server.records["User"]["OWN-2"].update(IsActive=False, LastModifiedDate=salesforce_server._now())

        (closed,) = adapter.read_updated(ObjectType.OPPORTUNITY, since)
        owners = {item.record.owner_id: item.record for item in adapter.read_updated(ObjectType.OWNER, since)}
        nothing_later = adapter.read_updated(ObjectType.ACCOUNT, since + timedelta(hours=1))

    assert opened.record.stage == "Prospecting"
    assert closed.record.stage == "closed_won" and not closed.record.is_open
    assert owners["OWN-2"].active is False
    assert nothing_later == []
