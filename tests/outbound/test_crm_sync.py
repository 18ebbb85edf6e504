"""Outbound writes against the fake CRM: idempotent, retried, parked visibly, never twice."""

from __future__ import annotations

from datetime import datetime

import pytest

from assets.outbound.crm_sync import (
    ADD_NOTE,
    ASSIGN_OWNER,
    CREATE_TASK,
    LINK_CONTACT,
    UPSERT,
    OutboxState,
    RetryPolicy,
    execute_writes,
    plan_writes,
)
from integrations.crm.fake import FakeCrm
from integrations.crm.models import Contact, ObjectType, Owner
from integrations.crm.port import CrmTransientError

NO_WAIT = RetryPolicy(max_attempts=3, base_delay_seconds=0, sleep=lambda _: None)


def routed_row(**overrides):
    row = {
        "lead_id": "lead_0001",
        "email": "ada@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "job_title": "CTO",
        "phone_e164": "+442071234567",
        "country_code": "GB",
        "account_id": None,
        "contact_id": None,
        "disposition": "route",
        "lead_status": "routed",
        "rule_id": "territory_segment",
        "reason": "EMEA smb → emea_smb",
        "team": "emea_smb",
        "owner_id": "own_1",
        "source": "demo_request",
        "task_subject": "First touch: Ada Lovelace (demo_request)",
        "task_due_at": datetime(2026, 11, 25, 12, 30),
        "note_body": "Routed by territory_segment: EMEA smb → emea_smb",
    }
    row.update(overrides)
    return row


def crm_with_owner() -> FakeCrm:
    crm = FakeCrm()
    crm.seed(
        owners=[
            Owner(
                owner_id="own_1",
                name="Rep One",
                email="one@salescorp.com",
                team="emea_smb",
                region="EMEA",
                active=True,
                capacity=50,
            ),
            Owner(
                owner_id="own_gone",
                name="Gone",
                email="gone@salescorp.com",
                team="emea_smb",
                region="EMEA",
                active=False,
                capacity=0,
            ),
        ],
        contacts=[
            Contact(
                contact_id="con_7", first_name="Grace", last_name="Hopper", email="grace@navy-example.com"
            )
        ],
    )
    return crm


def run(crm, rows, outbox_rows=()):
    writes = [write for row in rows for write in plan_writes(row)]
    return execute_writes(crm, writes, OutboxState(outbox_rows), NO_WAIT)


def as_outbox(results):
    return [result.__dict__ for result in results]


def test_routed_lead_gets_record_owner_task_and_note_in_order():
    crm = crm_with_owner()
    results = run(crm, [routed_row()])
    assert [r.operation for r in results] == [UPSERT, ASSIGN_OWNER, CREATE_TASK, ADD_NOTE]
    assert {r.status for r in results} == {"written"}
    lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
    assert lead is not None and lead.fields["owner_id"] == "own_1"
    assert crm.count(ObjectType.TASK) == 1 and crm.count(ObjectType.NOTE) == 1


def test_rerunning_the_same_batch_makes_no_crm_call():
    crm = crm_with_owner()
    first = run(crm, [routed_row()])
    calls_before = len(crm.calls)
    second = run(crm, [routed_row()], as_outbox(first))
    assert {r.status for r in second} == {"unchanged"}
    assert len(crm.calls) == calls_before
    assert crm.count(ObjectType.LEAD) == 1 and crm.count(ObjectType.TASK) == 1


def test_lost_outbox_still_creates_no_duplicate_record_or_task():
    crm = crm_with_owner()
    run(crm, [routed_row()])
    run(crm, [routed_row()])  # outbox lost: the CRM's external ids keep it idempotent
    assert crm.count(ObjectType.LEAD) == 1
    assert crm.count(ObjectType.TASK) == 1
    assert crm.count(ObjectType.NOTE) == 1


def test_same_person_with_new_details_updates_the_one_record():
    crm = crm_with_owner()
    first = run(crm, [routed_row()])
    second = run(crm, [routed_row(job_title="CEO")], as_outbox(first))
    upsert = next(r for r in second if r.operation == UPSERT)
    assert upsert.status == "written"
    assert crm.count(ObjectType.LEAD) == 1
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["job_title"] == "CEO"


def test_transient_failure_is_retried_then_succeeds():
    crm = crm_with_owner()
    crm.inject_failure("upsert_lead", times=2, failure=CrmTransientError)
    results = run(crm, [routed_row()])
    upsert = results[0]
    assert upsert.status == "written" and upsert.attempts == 3


def test_persistent_transient_failure_parks_the_lead_and_the_batch_goes_on():
    crm = crm_with_owner()
    crm.inject_failure("upsert_lead", times=3, failure=CrmTransientError)
    results = run(crm, [routed_row(), routed_row(lead_id="lead_0002", email="b@example.org")])
    first_lead = [r for r in results if r.lead_id == "lead_0001"]
    assert {r.status for r in first_lead} == {"parked"}
    assert "transient" in first_lead[0].error
    second_lead = [r for r in results if r.lead_id == "lead_0002"]
    assert {r.status for r in second_lead} == {"written"}


def test_parked_write_is_retried_on_the_next_run():
    crm = crm_with_owner()
    crm.inject_failure("create_task", times=3, failure=CrmTransientError)
    first = run(crm, [routed_row()])
    assert next(r for r in first if r.operation == CREATE_TASK).status == "parked"
    second = run(crm, [routed_row()], as_outbox(first))
    assert next(r for r in second if r.operation == CREATE_TASK).status == "written"
    assert crm.count(ObjectType.TASK) == 1


def test_inactive_owner_is_a_permanent_failure_not_retried():
    crm = crm_with_owner()
    results = run(crm, [routed_row(owner_id="own_gone")])
    assign = next(r for r in results if r.operation == ASSIGN_OWNER)
    assert assign.status == "parked" and assign.attempts == 1 and "permanent" in assign.error


def test_known_contact_is_linked_not_duplicated_as_a_lead():
    crm = crm_with_owner()
    results = run(crm, [routed_row(contact_id="con_7", email="grace@navy-example.com")])
    assert results[0].operation == LINK_CONTACT and results[0].crm_record_id == "con_7"
    assert crm.count(ObjectType.LEAD) == 0
    assert crm.count(ObjectType.TASK) == 1


def test_escalated_lead_gets_no_task_and_no_owner():
    row = routed_row(
        disposition="escalate", lead_status="escalated", owner_id=None, task_subject=None, task_due_at=None
    )
    assert [w.operation for w in plan_writes(row)] == [UPSERT, ADD_NOTE]


@pytest.mark.parametrize("missing", [float("nan"), None])
def test_sql_nulls_from_pandas_never_reach_the_crm(missing):
    writes = plan_writes(routed_row(job_title=missing, phone_e164=missing))
    fields = writes[0].payload["fields"]
    assert "job_title" not in fields and "phone" not in fields


def test_missing_contact_is_parked_with_a_clear_reason():
    crm = crm_with_owner()
    results = run(crm, [routed_row(contact_id="con_missing")])
    assert results[0].status == "parked"
    assert "con_missing" in results[0].error and "permanent" in results[0].error


def test_lead_without_country_is_written():
    crm = crm_with_owner()
    results = run(crm, [routed_row(country_code=None)])
    assert {r.status for r in results} == {"written"}


def test_a_row_the_crm_model_refuses_is_parked_and_the_batch_goes_on():
    from assets.outbound.crm_sync import PLAN, plan_all_writes

    writes, refused = plan_all_writes([routed_row(country_code="usa"), routed_row(lead_id="lead_0002")])
    assert [r.lead_id for r in refused] == ["lead_0001"]
    assert (
        refused[0].operation == PLAN and refused[0].status == "parked" and "country_code" in refused[0].error
    )
    assert {w.lead_id for w in writes} == {"lead_0002"}
