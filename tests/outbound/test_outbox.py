"""The outbox: keys, order, backoff, dead letters, operator commands, crashes, conflicts (fast, fakes)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import duckdb
import pytest

from assets.outbound.crm_sync import ADD_NOTE, ASSIGN_OWNER, CREATE_TASK, UPSERT
from assets.outbound.outbox import (
    CONFLICT,
    DEAD,
    DONE,
    IN_FLIGHT,
    PENDING,
    RetryPolicy,
    action_key,
    cancel_action,
    due_count,
    retry_action,
)
from assets.outbound.reconcile import sync_to_crm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import ObjectType, Owner
from integrations.crm.port import CrmTransientError
from tests.outbound.outbound_rows import routed_row

T0 = datetime(2026, 12, 1, 9, 0)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def owners(*ids: str) -> list[Owner]:
    return [
        Owner(owner_id=i, name=i, email=f"{i}@corp.example", team="t", region="EMEA", active=True, capacity=9)
        for i in ids
    ]


POLICY = RetryPolicy(max_attempts=3, base_delay_seconds=60)


def setup(policy: RetryPolicy = POLICY):
    crm = FakeCrm()
    crm.seed(owners=owners("own_1", "own_2"))
    return crm, duckdb.connect(), Clock(), policy


def statuses(con) -> dict[str, str]:
    return dict(con.execute("select kind, status from ops.outbox_actions order by seq").fetchall())


def test_the_idempotency_key_is_lead_kind_and_decision_version_and_a_replan_adds_nothing() -> None:
    crm, con, clock, policy = setup()
    sync_to_crm(con, crm, [routed_row()], policy, now=clock)
    ids = [row[0] for row in con.execute("select action_id from ops.outbox_actions order by seq").fetchall()]
    [version] = {row[0] for row in con.execute("select decision_version from ops.outbox_actions").fetchall()}

    again = sync_to_crm(con, crm, [routed_row()], policy, now=clock)

    assert ids == [
        action_key("lead_0001", kind, version) for kind in (UPSERT, ASSIGN_OWNER, CREATE_TASK, ADD_NOTE)
    ]
    assert again.enqueued.enqueued == 0 and again.results == []
    assert len(crm.calls_to("upsert_lead")) == 1


def test_a_changed_decision_enqueues_only_the_actions_whose_payload_changed() -> None:
    crm, con, clock, policy = setup()
    sync_to_crm(con, crm, [routed_row()], policy, now=clock)

    outcome = sync_to_crm(con, crm, [routed_row(company="Engines Ltd")], policy, now=clock)

    assert outcome.enqueued.enqueued == 1
    assert [result.action.kind for result in outcome.results] == [UPSERT]
    assert crm.count(ObjectType.LEAD) == 1


def test_nothing_runs_after_a_failed_prerequisite() -> None:
    crm, con, clock, policy = setup()
    crm.inject_failure("upsert_lead", times=1)

    sync_to_crm(con, crm, [routed_row()], policy, now=clock)

    assert statuses(con) == {UPSERT: PENDING, ASSIGN_OWNER: PENDING, CREATE_TASK: PENDING, ADD_NOTE: PENDING}
    assert crm.calls_to("assign_owner") == [] and crm.calls_to("create_task") == []


def test_backoff_grows_exponentially_with_jitter_and_never_undercuts_retry_after() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_seconds=10, max_delay_seconds=100)
    rng = random.Random(7)
    delays = [policy.delay(attempt, None, rng) for attempt in (1, 2, 3, 4, 5)]

    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20 and 20 <= delays[2] <= 40
    assert all(50 <= delay <= 100 for delay in delays[4:])  # capped
    assert len({round(policy.delay(1, None, rng), 6) for _ in range(20)}) > 1  # jittered
    assert policy.delay(1, 300.0, rng) == 300.0


def test_a_transient_error_waits_for_its_backoff_and_honours_retry_after() -> None:
    crm, con, clock, policy = setup()
    crm.inject_failure(
        "upsert_lead", times=1, failure=lambda message: CrmTransientError(message, retry_after=600)
    )

    sync_to_crm(con, crm, [routed_row()], policy, now=clock)
    [(next_at,)] = con.execute(
        f"select next_attempt_at from ops.outbox_actions where kind = '{UPSERT}'"
    ).fetchall()
    assert next_at >= T0 + timedelta(seconds=600)
    assert due_count(con, T0 + timedelta(seconds=599)) == 0

    clock.at = next_at
    sync_to_crm(con, crm, [routed_row()], policy, now=clock)

    assert set(statuses(con).values()) == {DONE}


def test_after_max_attempts_the_action_is_a_dead_letter_with_its_last_error() -> None:
    crm, con, clock, policy = setup()
    crm.inject_failure("upsert_lead", times=5)
    for _ in range(3):
        sync_to_crm(con, crm, [routed_row()], policy, now=clock)
        clock.at += timedelta(hours=2)

    [(status, attempts, error)] = con.execute(
        f"select status, attempts, last_error from ops.outbox_actions where kind = '{UPSERT}'"
    ).fetchall()
    assert (status, attempts) == (DEAD, 3) and "injected failure" in error
    assert due_count(con, clock.at) == 0


def test_a_permanent_error_is_parked_at_once() -> None:
    crm, con, clock, policy = setup()
    sync_to_crm(con, crm, [routed_row(owner_id="own_unknown")], policy, now=clock)

    assert statuses(con)[ASSIGN_OWNER] == DEAD
    assert statuses(con)[CREATE_TASK] == PENDING  # waits behind the dead letter


def test_retry_and_cancel_free_a_dead_letter() -> None:
    crm, con, clock, policy = setup()
    crm.inject_failure("upsert_lead", times=3)
    for _ in range(3):
        sync_to_crm(con, crm, [routed_row()], policy, now=clock)
        clock.at += timedelta(hours=2)
    [(upsert_id,)] = con.execute(
        f"select action_id from ops.outbox_actions where kind = '{UPSERT}'"
    ).fetchall()

    retry_action(con, upsert_id, clock.at)
    sync_to_crm(con, crm, [routed_row()], policy, now=clock)
    assert set(statuses(con).values()) == {DONE}

    crm2, con2, clock2, _ = setup()
    sync_to_crm(con2, crm2, [routed_row(owner_id="own_unknown")], policy, now=clock2)
    [(owner_id,)] = con2.execute(
        f"select action_id from ops.outbox_actions where kind = '{ASSIGN_OWNER}'"
    ).fetchall()
    cancel_action(con2, owner_id, clock2.at)
    sync_to_crm(con2, crm2, [routed_row(owner_id="own_unknown")], policy, now=clock2)
    assert statuses(con2) == {UPSERT: DONE, ASSIGN_OWNER: "cancelled", CREATE_TASK: DEAD, ADD_NOTE: PENDING}


def test_a_crash_between_send_and_ack_never_duplicates_the_write() -> None:
    crm, con, clock, policy = setup()
    # The send lands but the process dies before the acknowledgement: the row stays in_flight.
    crm.inject_failure("create_task", after_write=True, failure=lambda message: KeyboardInterrupt(message))
    with pytest.raises(KeyboardInterrupt):
        sync_to_crm(con, crm, [routed_row()], policy, now=clock)
    assert statuses(con)[CREATE_TASK] == IN_FLIGHT
    assert crm.count(ObjectType.TASK) == 1

    outcome = sync_to_crm(con, crm, [routed_row()], policy, now=clock)

    assert [(result.action.kind, result.resumed) for result in outcome.results] == [
        (CREATE_TASK, True),
        (ADD_NOTE, False),
    ]
    assert crm.count(ObjectType.TASK) == 1 and crm.count(ObjectType.LEAD) == 1
    assert set(statuses(con).values()) == {DONE}


def test_an_owner_a_person_changed_is_a_conflict_escalated_not_overwritten() -> None:
    crm, con, clock, policy = setup()
    sync_to_crm(con, crm, [routed_row()], policy, now=clock)
    lead = crm.get_record(ObjectType.LEAD, external_id="lead_0001")
    crm.assign_owner(ObjectType.LEAD, lead.record_id, "own_2")  # a person, in the CRM
    calls = len(crm.calls_to("assign_owner"))

    # The pipeline now decides another owner for the lead: it must not overwrite the person's choice.
    outcome = sync_to_crm(con, crm, [routed_row(owner_id="own_1", team="emea_mm")], policy, now=clock)
    sync_to_crm(con, crm, [routed_row(owner_id="own_3_new")], policy, now=clock)

    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_2"
    assert len(crm.calls_to("assign_owner")) == calls
    assert any(finding.finding == "owner_changed_in_crm" for finding in outcome.findings)
    [conflict] = con.execute(
        "select distinct field, crm_value, leadops_value, changed_by is not null, changed_at is not null"
        " from ops.crm_conflicts where leadops_value = 'own_3_new'"
    ).fetchall()
    assert conflict == ("owner_id", "own_2", "own_3_new", True, True)
    assert statuses(con)[ASSIGN_OWNER] == CONFLICT
