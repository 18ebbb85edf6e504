"""Outbound writes against the fake CRM: idempotent, retried, parked visibly, never twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import duckdb
import pytest

from assets.outbound.crm_sync import (
    ADD_NOTE,
    ASSIGN_OWNER,
    CREATE_TASK,
    LINK_CONTACT,
    UPSERT,
    plan_actions,
    plan_writes,
)
from assets.outbound.outbox import RetryPolicy
from assets.outbound.reconcile import sync_to_crm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import Contact, ObjectType, Owner
from integrations.crm.port import CrmTransientError
from tests.outbound.outbound_rows import routed_row

POLICY = RetryPolicy(max_attempts=3, base_delay_seconds=1, max_delay_seconds=1)
T0 = datetime(2026, 12, 1, 9, 0)


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


def run(crm, rows, con=None, at=T0):
    """One outbound pass over `con` (a fresh outbox when None): each action's outcome of the pass."""
    con = con if con is not None else duckdb.connect()
    outcome = sync_to_crm(con, crm, rows, POLICY, now=lambda: at)
    return [
        SimpleNamespace(
            lead_id=r.action.lead_id,
            operation=r.action.kind,
            status=r.status,
            attempts=r.attempts,
            error=r.error,
            crm_record_id=r.record_id,
        )
        for r in outcome.results
    ]


def passes(crm, rows, count):
    """`count` passes, each after every backoff has run out; the outcomes of all of them."""
    con = duckdb.connect()
    return [result for n in range(count) for result in run(crm, rows, con, T0 + timedelta(minutes=n))]


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
    con = duckdb.connect()
    run(crm, [routed_row()], con)
    calls_before = len(crm.calls)
    second = run(crm, [routed_row()], con)
    assert second == []
    # Only the reconciliation's reads: no write reaches the CRM again.
    assert {call.method for call in crm.calls[calls_before:]} <= {"read_by_external_ids", "get_record"}
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
    con = duckdb.connect()
    run(crm, [routed_row()], con)
    second = run(crm, [routed_row(job_title="CEO")], con)
    upsert = next(r for r in second if r.operation == UPSERT)
    assert upsert.status == "written"
    assert crm.count(ObjectType.LEAD) == 1
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["job_title"] == "CEO"


def test_transient_failure_is_retried_after_its_backoff_then_succeeds():
    crm = crm_with_owner()
    crm.inject_failure("upsert_lead", times=2, failure=CrmTransientError)
    results = passes(crm, [routed_row()], 3)
    assert [r.status for r in results if r.operation == UPSERT] == ["retry_scheduled"] * 2 + ["written"]
    assert results[2].attempts == 3


def test_persistent_transient_failure_parks_the_lead_and_the_batch_goes_on():
    class TimesOutForOneLead(FakeCrm):
        def upsert_lead(self, external_id, fields):
            if external_id == "lead_0001":
                raise CrmTransientError("timeout")
            return super().upsert_lead(external_id, fields)

    crm = TimesOutForOneLead()
    crm.seed(owners=crm_with_owner().read_owners())
    results = passes(crm, [routed_row(), routed_row(lead_id="lead_0002", email="b@example.org")], 3)
    first_lead = [r for r in results if r.lead_id == "lead_0001"]
    assert [r.status for r in first_lead] == ["retry_scheduled", "retry_scheduled", "parked"]
    assert "transient" in first_lead[-1].error
    second_lead = [r for r in results if r.lead_id == "lead_0002"]
    assert {r.status for r in second_lead} == {"written"}


def test_a_task_waiting_for_a_retry_is_sent_on_the_next_pass():
    crm = crm_with_owner()
    crm.inject_failure("create_task", times=1, failure=CrmTransientError)
    results = passes(crm, [routed_row()], 2)
    assert [r.status for r in results if r.operation == CREATE_TASK] == ["retry_scheduled", "written"]
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
    actions, refused = plan_actions([routed_row(country_code="usa"), routed_row(lead_id="lead_0002")])
    assert [r.lead_id for r in refused] == ["lead_0001"]
    assert "country_code" in refused[0].error
    assert {a.lead_id for a in actions} == {"lead_0002"}
