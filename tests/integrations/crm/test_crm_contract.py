"""Behaviour every CrmPort adapter must show; each test runs against EmbeddedCrm and FakeCrm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from crm_test_helpers import load, owner

from integrations.crm.models import Account, ContactFields, LeadFields, ObjectType, Opportunity
from integrations.crm.port import CrmPermanentError, CrmPort
from integrations.crm.store import RecordStoreCrm, StoredRecord

DUE = datetime(2025, 11, 24, 10, 0, tzinfo=UTC)


def test_the_adapter_implements_every_port_method(crm: CrmPort) -> None:
    assert isinstance(crm, CrmPort)


def test_upserting_the_same_external_id_twice_keeps_one_lead(seeded_crm: CrmPort) -> None:
    first = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", status="routed", owner_id="OWN-1"))
    second = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", status="routed", owner_id="OWN-1"))

    assert first.created and not second.created
    assert second.record_id == first.record_id
    assert seeded_crm.count(ObjectType.LEAD) == 1


def test_a_change_bumps_version_and_updated_at_and_a_repeat_changes_nothing(seeded_crm: CrmPort) -> None:
    created = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", status="routed"))
    changed = seeded_crm.upsert_lead("lead-1", LeadFields(status="escalated"))
    repeated = seeded_crm.upsert_lead("lead-1", LeadFields(status="escalated"))

    assert (created.version, changed.version, repeated.version) == (1, 2, 2)
    assert changed.changed and not repeated.changed
    assert changed.updated_at >= created.updated_at
    assert repeated.updated_at == changed.updated_at
    assert changed.created_at == created.created_at


def test_upsert_keeps_fields_left_out_and_clears_fields_passed_as_none(seeded_crm: CrmPort) -> None:
    seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", company="Acme", owner_id="OWN-1"))
    record = seeded_crm.upsert_lead("lead-1", LeadFields(company=None, status="disqualified"))

    assert record.fields == {"email": "a@b.com", "owner_id": "OWN-1", "status": "disqualified"}


def test_generated_ids_carry_the_object_prefix_and_a_sequence(seeded_crm: CrmPort) -> None:
    lead_ids = [
        seeded_crm.upsert_lead(f"lead-{n}", LeadFields(email=f"p{n}@b.com")).record_id for n in (1, 2)
    ]
    contact = seeded_crm.upsert_contact("lead-1", ContactFields(email="p1@b.com", account_id="ACC-1"))

    assert lead_ids == ["LEAD-000001", "LEAD-000002"]
    assert contact.record_id == "CONTACT-000001"


def test_inactive_owner_never_receives_a_lead(seeded_crm: CrmPort) -> None:
    with pytest.raises(CrmPermanentError, match="OWN-9 is inactive"):
        seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-9"))

    assert seeded_crm.count(ObjectType.LEAD) == 0


@pytest.mark.parametrize("owner_id", ["OWN-9", "OWN-404"])
def test_assign_owner_refuses_inactive_and_unknown_owners(seeded_crm: CrmPort, owner_id: str) -> None:
    lead = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1"))

    with pytest.raises(CrmPermanentError, match=owner_id):
        seeded_crm.assign_owner(ObjectType.LEAD, lead.record_id, owner_id)

    assert seeded_crm.get_record(ObjectType.LEAD, record_id=lead.record_id).fields["owner_id"] == "OWN-1"


def test_assign_owner_moves_the_record_and_bumps_its_version_once(seeded_crm: CrmPort) -> None:
    lead = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1"))

    moved = seeded_crm.assign_owner(ObjectType.LEAD, lead.record_id, "OWN-2")
    again = seeded_crm.assign_owner(ObjectType.LEAD, lead.record_id, "OWN-2")

    assert moved.fields["owner_id"] == "OWN-2"
    assert (moved.version, again.version) == (2, 2)
    assert moved.changed and not again.changed


def test_assign_owner_on_a_missing_record_or_wrong_type_is_permanent(seeded_crm: CrmPort) -> None:
    with pytest.raises(CrmPermanentError, match="no lead with id LEAD-000404"):
        seeded_crm.assign_owner(ObjectType.LEAD, "LEAD-000404", "OWN-1")
    with pytest.raises(CrmPermanentError, match="no lead with id CON-1"):
        seeded_crm.assign_owner(ObjectType.LEAD, "CON-1", "OWN-1")
    with pytest.raises(CrmPermanentError, match="have no owner"):
        seeded_crm.assign_owner(ObjectType.NOTE, "CON-1", "OWN-1")


def test_a_second_create_task_with_the_same_external_id_returns_the_first_task(seeded_crm: CrmPort) -> None:
    lead = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1"))

    first = seeded_crm.create_task("lead-1:first_touch", lead.record_id, "Call Dana", DUE, "OWN-1")
    second = seeded_crm.create_task("lead-1:first_touch", lead.record_id, "Call Dana again", DUE, "OWN-2")

    assert first.created and not second.created and not second.changed
    assert second.record_id == first.record_id
    assert second.fields["subject"] == "Call Dana"
    assert seeded_crm.count(ObjectType.TASK) == 1
    assert first.fields["related_record_id"] == lead.record_id
    assert first.fields["due_at"] == "2025-11-24T10:00:00+00:00"


def test_task_due_time_is_stored_in_utc_and_naive_times_are_taken_as_utc(seeded_crm: CrmPort) -> None:
    berlin = seeded_crm.create_task(
        "t-1", "CON-1", "Call", datetime(2025, 11, 24, 11, 0, tzinfo=timezone(timedelta(hours=1))), "OWN-1"
    )
    naive = seeded_crm.create_task("t-2", "CON-1", "Call", datetime(2025, 11, 24, 10, 0), "OWN-1")

    assert berlin.fields["due_at"] == naive.fields["due_at"] == "2025-11-24T10:00:00+00:00"


def test_create_task_refuses_inactive_owner_and_missing_parent(seeded_crm: CrmPort) -> None:
    with pytest.raises(CrmPermanentError, match="inactive"):
        seeded_crm.create_task("t-1", "CON-1", "Call", DUE, "OWN-9")
    with pytest.raises(CrmPermanentError, match="LEAD-000404"):
        seeded_crm.create_task("t-1", "LEAD-000404", "Call", DUE, "OWN-1")

    assert seeded_crm.count(ObjectType.TASK) == 0


def test_a_second_add_note_with_the_same_external_id_creates_nothing(seeded_crm: CrmPort) -> None:
    first = seeded_crm.add_note("lead-1:evt-1", "CON-1", "Asked about pricing")
    second = seeded_crm.add_note("lead-1:evt-1", "CON-1", "Asked about pricing (retry)")

    assert second.record_id == first.record_id and not second.created
    assert second.fields["body"] == "Asked about pricing"
    assert seeded_crm.count(ObjectType.NOTE) == 1


def test_read_by_external_ids_returns_the_held_records_of_that_type_and_omits_the_rest(
    seeded_crm: CrmPort,
) -> None:
    lead = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", owner_id="OWN-1"))
    task = seeded_crm.create_task("lead-1:first_touch", lead.record_id, "Call", DUE, "OWN-1")

    leads = seeded_crm.read_by_external_ids(ObjectType.LEAD, ["lead-1", "lead-404", "lead-1:first_touch"])
    tasks = seeded_crm.read_by_external_ids(ObjectType.TASK, ["lead-1:first_touch"])

    assert list(leads) == ["lead-1"]
    assert leads["lead-1"] == lead.model_copy(update={"created": False, "changed": False})
    assert tasks["lead-1:first_touch"].record_id == task.record_id
    assert seeded_crm.read_by_external_ids(ObjectType.NOTE, []) == {}


def test_get_record_finds_by_record_id_or_external_id_within_its_type(seeded_crm: CrmPort) -> None:
    lead = seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com"))

    by_id = seeded_crm.get_record(ObjectType.LEAD, record_id=lead.record_id)
    by_external = seeded_crm.get_record(ObjectType.LEAD, external_id="lead-1")

    assert by_id == by_external
    assert by_id is not None and by_id.external_id == "lead-1" and not by_id.created
    assert seeded_crm.get_record(ObjectType.CONTACT, record_id=lead.record_id) is None
    assert seeded_crm.get_record(ObjectType.LEAD, external_id="lead-404") is None
    with pytest.raises(ValueError, match="exactly one"):
        seeded_crm.get_record(ObjectType.LEAD)


def test_a_rejected_write_leaves_no_trace_and_consumes_no_id(seeded_crm: CrmPort) -> None:
    with pytest.raises(CrmPermanentError, match="unknown account ACC-404"):
        seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com", account_id="ACC-404"))

    assert seeded_crm.get_record(ObjectType.LEAD, external_id="lead-1") is None
    assert seeded_crm.upsert_lead("lead-1", LeadFields(email="a@b.com")).record_id == "LEAD-000001"


def test_contacts_the_pipeline_creates_are_read_back_with_the_imported_ones(seeded_crm: CrmPort) -> None:
    created = seeded_crm.upsert_contact(
        "lead-7", ContactFields(email="new@acme.com", first_name="Nia", account_id="ACC-1", owner_id="OWN-2")
    )

    contacts = {contact.contact_id: contact for contact in seeded_crm.read_contacts()}

    assert set(contacts) == {"CON-1", created.record_id}
    assert contacts[created.record_id].email == "new@acme.com"
    assert contacts[created.record_id].account_id == "ACC-1"


def test_reads_return_imported_records_and_only_open_opportunities(seeded_crm: CrmPort) -> None:
    load(
        seeded_crm,
        Opportunity(opportunity_id="OPP-1", account_id="ACC-1", stage="proposal"),
        Opportunity(opportunity_id="OPP-2", account_id="ACC-1", stage="closed_won"),
    )

    owners = {owner.owner_id: owner for owner in seeded_crm.read_owners()}
    (account,) = seeded_crm.read_accounts()

    assert owners["OWN-9"].active is False and owners["OWN-1"].capacity == 10
    assert account.alias_domains == ["acme.io"] and account.owner_id == "OWN-9"
    assert [opp.opportunity_id for opp in seeded_crm.read_open_opportunities()] == ["OPP-1"]


def test_import_replaces_the_record_whole_and_keeps_its_csv_id(seeded_crm: CrmPort) -> None:
    (record,) = load(
        seeded_crm, Account(account_id="ACC-1", name="Acme", domain="acme.com", status="customer")
    )

    assert record.record_id == "ACC-1" and record.version == 2 and record.changed
    assert record.fields.get("alias_domains") == []
    assert "owner_id" not in record.fields


def test_import_refuses_only_the_bad_records_of_a_batch(seeded_crm: CrmPort) -> None:
    outcomes = seeded_crm.import_records(
        [
            Account(account_id="OWN-1", name="Clash", status="prospect"),
            Account(account_id="ACC-2", name="Good", status="prospect", owner_id="OWN-9"),
            Account(account_id="ACC-3", name="X", status="prospect", owner_id="OWN-404"),
            Opportunity(opportunity_id="OPP-1", account_id="ACC-404", stage="proposal"),
            Opportunity(opportunity_id="OPP-2", account_id="ACC-2", stage="proposal"),
        ]
    )

    messages = [str(o) if isinstance(o, CrmPermanentError) else o.record_id for o in outcomes]
    assert messages == [
        "id OWN-1 is already used by a record of type owner",
        "ACC-2",
        "unknown owner OWN-404",
        "unknown account ACC-404",
        "OPP-2",
    ]
    assert seeded_crm.count(ObjectType.ACCOUNT) == 2
    assert [opp.opportunity_id for opp in seeded_crm.read_open_opportunities()] == ["OPP-2"]


def test_import_allows_an_inactive_owner_to_keep_an_account(seeded_crm: CrmPort) -> None:
    load(seeded_crm, owner("OWN-1", active=False))

    record = seeded_crm.get_record(ObjectType.OWNER, record_id="OWN-1")

    assert record is not None and record.fields["active"] is False
    assert seeded_crm.get_record(ObjectType.ACCOUNT, record_id="ACC-1") is not None


def test_a_task_without_owner_is_created_unassigned(seeded_crm: CrmPort) -> None:
    task = seeded_crm.create_task("t-1", "CON-1", "Call", DUE, None)

    assert task.created and "owner_id" not in task.fields


def test_a_call_that_fails_half_way_leaves_nothing_behind(crm: RecordStoreCrm) -> None:
    now = datetime.now(UTC)
    half_written = StoredRecord(ObjectType.LEAD, "LEAD-000001", "lead-1", {"email": "a@b.com"}, 1, now, now)

    with pytest.raises(RuntimeError, match="crashed"), crm._transaction(write=True) as tx:
        tx.next_sequence_value("LEAD")
        tx.insert(half_written)
        raise RuntimeError("crashed between two writes of one call")

    assert crm.count(ObjectType.LEAD) == 0
    assert crm.upsert_lead("lead-1", LeadFields(email="a@b.com")).record_id == "LEAD-000001"


def test_read_updated_returns_what_changed_since_with_the_crms_updated_at(seeded_crm: CrmPort) -> None:
    everything = {ObjectType(t): seeded_crm.read_updated(t) for t in (ObjectType.OWNER, ObjectType.ACCOUNT)}
    since = datetime.now(UTC)
    seeded_crm.assign_owner(ObjectType.ACCOUNT, "ACC-1", "OWN-2")
    created = seeded_crm.upsert_contact("lead-7", ContactFields(email="new@acme.com", first_name="Nia"))

    (account,) = seeded_crm.read_updated(ObjectType.ACCOUNT, since)
    contacts = {item.record.contact_id for item in seeded_crm.read_updated(ObjectType.CONTACT, since)}

    assert {item.record.owner_id for item in everything[ObjectType.OWNER]} == {"OWN-1", "OWN-2", "OWN-9"}
    assert [item.record.account_id for item in everything[ObjectType.ACCOUNT]] == ["ACC-1"]
    assert account.record.owner_id == "OWN-2"
    assert account.updated_at is not None and account.updated_at.tzinfo is not None
    assert created.record_id in contacts
    assert seeded_crm.read_updated(ObjectType.CONTACT, since + timedelta(hours=1)) == []


def test_read_updated_shows_a_deactivated_owner_and_a_closed_opportunity_and_skips_the_rest(
    seeded_crm: CrmPort,
) -> None:
    load(seeded_crm, Opportunity(opportunity_id="OPP-1", account_id="ACC-1", stage="proposal"))
    load(seeded_crm, Opportunity(opportunity_id="OPP-2", account_id="ACC-1", stage="closed_won"))
    full = [item.record.opportunity_id for item in seeded_crm.read_updated(ObjectType.OPPORTUNITY)]
    since = datetime.now(UTC)
    load(seeded_crm, owner("OWN-2", active=False))
    load(seeded_crm, Opportunity(opportunity_id="OPP-1", account_id="ACC-1", stage="closed_lost"))

    owners = seeded_crm.read_updated(ObjectType.OWNER, since)
    (closed,) = seeded_crm.read_updated(ObjectType.OPPORTUNITY, since)

    assert full == ["OPP-1"]
    assert [(item.record.owner_id, item.record.active) for item in owners] == [("OWN-2", False)]
    assert closed.record.opportunity_id == "OPP-1" and not closed.record.is_open
    assert seeded_crm.read_updated(ObjectType.ACCOUNT, since) == []
