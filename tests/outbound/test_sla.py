"""First-touch SLAs in business time: the pure deadline, then a missed SLA against the real Slack server
(a reminder, then a re-route to the next active owner, both logged) and a lead touched in time (nothing)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from assets.decisions.state_machine import find_disallowed_logged_transitions, load_allowed_transitions
from assets.outbound.business_time import BusinessHours, business_deadline
from assets.outbound.notifications import SLACK_SLA_REMINDER, SLACK_TARGET, NotificationTargets
from assets.outbound.reconcile import deliver_due_actions, sync_to_crm
from assets.outbound.sla import REMIND, REROUTE, TOUCHED, due_sla_steps, enforce_sla, next_active_owner
from integrations.crm.fake import FakeCrm
from integrations.crm.models import LeadFields, ObjectType
from sensors.sla_breaches import sla_request
from tests.integrations.slack.slack_api_server import SlackApiServer
from tests.outbound.test_notifications import (
    FAST,
    TRANSITIONS,
    build_warehouse,
    crm_row,
    decision,
    fake_crm,
    slack_client,
)

# The Slack server fixtures, shared with the notification tests.
from tests.outbound.test_notifications import slack as slack
from tests.outbound.test_notifications import slack_server as slack_server

BERLIN = BusinessHours(
    time_zone="Europe/Berlin",
    day_start=time(9),
    day_end=time(17),
    holidays=frozenset({date(2026, 12, 25)}),
)
# Monday 2030-03-04, 09:00 in Berlin: the lead is decided as the business day opens; SLA 30 minutes.
DECIDED = datetime(2030, 3, 4, 8, 0)
DEADLINE = datetime(2030, 3, 4, 8, 30, tzinfo=UTC)


def at(moment: datetime):
    """The outbox's clock, stopped at `moment` (naive UTC, as the outbox stores it)."""
    return lambda: moment.astimezone(UTC).replace(tzinfo=None)


def test_a_deadline_skips_the_night_and_the_weekend_in_the_teams_time_zone() -> None:
    friday_late = datetime(2030, 3, 8, 15, 50, tzinfo=UTC)  # 16:50 in Berlin
    assert business_deadline(friday_late, 30, BERLIN) == datetime(2030, 3, 11, 8, 20, tzinfo=UTC)
    at_night = datetime(2030, 3, 5, 1, 0)  # naive is UTC: 02:00 in Berlin
    assert business_deadline(at_night, 30, BERLIN) == datetime(2030, 3, 5, 8, 30, tzinfo=UTC)


def test_a_deadline_skips_holidays_and_follows_daylight_saving_time() -> None:
    christmas_eve_late = datetime(2026, 12, 24, 15, 45, tzinfo=UTC)  # 16:45 Thursday in Berlin
    # 15 minutes on the 24th; the 25th is a holiday and the weekend follows: the rest on Monday the 28th.
    assert business_deadline(christmas_eve_late, 60, BERLIN) == datetime(2026, 12, 28, 8, 45, tzinfo=UTC)
    summer_morning = datetime(2030, 7, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert business_deadline(summer_morning, 15, BERLIN) == datetime(2030, 7, 1, 7, 15, tzinfo=UTC)


def test_the_next_active_owner_follows_the_current_one_and_skips_inactive_and_earlier_owners() -> None:
    owners = {
        "own_1": {"team": "t", "is_active": True},
        "own_2": {"team": "t", "is_active": False},
        "own_3": {"team": "t", "is_active": True},
        "own_4": {"team": "other", "is_active": True},
    }
    assert next_active_owner(owners, "t", "own_1", {"own_1"}) == "own_3"
    assert next_active_owner(owners, "t", "own_3", {"own_3"}) == "own_1"
    assert next_active_owner(owners, "t", "own_3", {"own_1", "own_3"}) is None


def with_state_log(con: duckdb.DuckDBPyConnection, lead_id: str = "lead_0001") -> None:
    """The pipeline's logged path of a routed lead, as lead_state_log writes it."""
    con.execute(
        "create table ops.lead_state_log (lead_id varchar not null, from_state varchar,"
        ' to_state varchar not null, "at" timestamp not null, actor varchar not null,'
        " evidence_json varchar not null, rules_version varchar not null, seq bigint not null)"
    )
    steps = [
        (None, "new", {"event_ids": "evt-1", "source": "web_form"}),
        ("new", "normalized", {"spam_signals": ""}),
        ("normalized", "matched", {"match_method": "none"}),
        ("matched", "qualified", {"rule_id": "territory_segment", "team": "emea_smb"}),
        (
            "qualified",
            "routed",
            {"owner_id": "own_1", "rule_id": "territory_segment", "reason": "EMEA smb", "sla_minutes": 30},
        ),
    ]
    for seq, (from_state, to_state, evidence) in enumerate(steps, start=1):
        con.execute(
            "insert into ops.lead_state_log values (?, ?, ?, ?, 'leadops-pipeline', ?, 'v1', ?)",
            [lead_id, from_state, to_state, DECIDED, json.dumps(evidence), seq],
        )


def test_a_missed_sla_reminds_the_owner_then_reroutes_to_the_next_active_owner_both_logged(
    slack: SlackApiServer,
) -> None:
    con = build_warehouse([decision(decided_at=DECIDED)])
    with_state_log(con)
    crm = fake_crm()
    clients = {SLACK_TARGET: slack_client(slack)}
    sync_to_crm(con, crm, [crm_row()], FAST, clients=clients)
    assert len(slack.messages_in("DU0ANA")) == 1, "the assignment alert"

    assert due_sla_steps(con, DEADLINE - timedelta(minutes=1)) == []
    reminded = enforce_sla(con, DEADLINE + timedelta(minutes=1), NotificationTargets(slack=True))
    deliver_due_actions(con, crm, FAST, clients=clients, now=at(DEADLINE + timedelta(minutes=1)))

    assert [step.step for step in reminded.steps] == [REMIND]
    assert len(slack.messages_in("DU0ANA")) == 2, "the reminder, by DM"
    assert "SLA missed" in slack.messages_in("DU0ANA")[-1].text
    # The reminder is answered by nobody; 60 business minutes later (emea_smb's reroute_after_minutes):
    assert due_sla_steps(con, DEADLINE + timedelta(minutes=60)) == []
    rerouted = enforce_sla(con, DEADLINE + timedelta(minutes=62), NotificationTargets(slack=True))
    deliver_due_actions(con, crm, FAST, clients=clients, now=at(DEADLINE + timedelta(minutes=62)))

    assert [step.step for step in rerouted.steps] == [REROUTE]
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_2"
    assert len(slack.messages_in("DU0BEN")) == 1, "the next active owner is alerted"
    [(from_state, to_state, actor, evidence)] = con.execute(
        "select from_state, to_state, actor, evidence_json from ops.lead_state_log where seq = 6"
    ).fetchall()
    assert (from_state, to_state, actor) == ("routed", "routed", "leadops-sla")
    assert json.loads(evidence)["owner_id"] == "own_2"
    assert json.loads(evidence)["previous_owner_id"] == "own_1"
    assert find_disallowed_logged_transitions(con, load_allowed_transitions(Path(TRANSITIONS))) == []
    events = con.execute('select step, owner_id, new_owner_id from ops.sla_events order by "at"').fetchall()
    assert events == [("reminded", "own_1", None), ("rerouted", "own_1", "own_2")]
    reminders = con.execute(
        "select count(*) from ops.notification_log"
        f" where kind = '{SLACK_SLA_REMINDER}' and status = 'written'"
    ).fetchall()
    assert reminders == [(1,)]

    # The next pipeline run keeps the new owner and announces nothing again.
    sync_to_crm(con, crm, [crm_row()], FAST, clients=clients)
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_2"
    assert len(slack.calls_to("chat.postMessage")) == 3
    # The new owner's clock starts at the re-route: nothing is due until their own SLA passes.
    assert due_sla_steps(con, DEADLINE + timedelta(minutes=80)) == []


def test_a_lead_touched_in_time_is_neither_reminded_nor_rerouted() -> None:
    con = build_warehouse([decision(decided_at=DECIDED)])
    with_state_log(con)
    con.execute("create table raw.outcome_events (lead_id varchar, kind varchar, occurred_at timestamp)")
    con.execute("insert into raw.outcome_events values ('lead_0001', 'first_touch', ?)", [DECIDED])

    outcome = enforce_sla(con, DEADLINE + timedelta(hours=5), NotificationTargets(slack=True))

    assert outcome.steps == ()
    assert con.execute("select count(*) from ops.sla_events").fetchall() == [(0,)]


def rep_sets_the_lead_status(crm: FakeCrm, status: str) -> None:
    """The owner answers the lead and moves its status on in the CRM: a person's write through the port."""
    crm.actor = "ana@example.com"
    crm.upsert_lead("lead_0001", LeadFields(status=status))


def rep_completes_the_first_touch_task(crm: FakeCrm) -> None:
    """The owner ticks the first-touch task off in the CRM's own screens: no port call does that."""
    with crm._transaction(write=True) as tx:
        task = tx.by_external_id(ObjectType.TASK, "lead_0001:first_touch")
        tx.update(replace(task, fields={**task.fields, "status": "done"}, version=task.version + 1))


@pytest.mark.parametrize(
    ("work_in_crm", "evidence"),
    [
        (lambda crm: rep_sets_the_lead_status(crm, "awaiting_response"), "has status awaiting_response"),
        (rep_completes_the_first_touch_task, "first-touch task TASK-000001 is done"),
    ],
    ids=["lead_status_moved_on_by_a_person", "first_touch_task_done"],
)
def test_a_lead_worked_in_the_crm_is_logged_touched_and_neither_reminded_nor_rerouted(
    work_in_crm, evidence: str
) -> None:
    con = build_warehouse([decision(decided_at=DECIDED)])
    with_state_log(con)
    crm = fake_crm()
    sync_to_crm(con, crm, [crm_row()], FAST)
    work_in_crm(crm)
    late = DEADLINE + timedelta(hours=5)
    # The reader copy alone cannot see the CRM: the sensor still asks for a run...
    assert [step.step for step in due_sla_steps(con, late)] == [REMIND]

    outcome = enforce_sla(con, late, NotificationTargets(slack=True), crm=crm)

    # ...which reads the CRM, logs the touch and takes no step: nothing more is due, ever.
    assert outcome.steps == ()
    [(step, owner_id, detail)] = con.execute("select step, owner_id, detail from ops.sla_events").fetchall()
    assert (step, owner_id) == (TOUCHED, "own_1") and evidence in detail
    assert due_sla_steps(con, late + timedelta(days=3)) == []
    assert con.execute("select count(*) from ops.outbox_actions where kind like 'slack%'").fetchall() == [
        (0,)
    ]
    assert crm.get_record(ObjectType.LEAD, external_id="lead_0001").fields["owner_id"] == "own_1"


def test_a_lead_the_crm_shows_untouched_is_still_reminded() -> None:
    con = build_warehouse([decision(decided_at=DECIDED)])
    with_state_log(con)
    crm = fake_crm()
    sync_to_crm(con, crm, [crm_row()], FAST)
    # LeadOps' own writes (status routed, the task open) are no touch.
    outcome = enforce_sla(con, DEADLINE + timedelta(minutes=1), NotificationTargets(slack=True), crm=crm)

    assert [step.step for step in outcome.steps] == [REMIND]
    assert con.execute("select step from ops.sla_events").fetchall() == [("reminded",)]


def test_the_sensor_asks_for_a_run_only_when_a_step_is_due(tmp_path: Path) -> None:
    reader = tmp_path / "warehouse.readonly.duckdb"
    con = build_warehouse([decision(decided_at=DECIDED)])
    with_state_log(con)
    con.execute(f"attach '{reader}' as copy")
    con.execute("copy from database memory to copy")
    con.execute("detach copy")

    assert sla_request(tmp_path / "missing.duckdb", DEADLINE, False).__class__.__name__ == "SkipReason"
    assert sla_request(reader, DEADLINE - timedelta(minutes=5), False).__class__.__name__ == "SkipReason"
    request = sla_request(reader, DEADLINE + timedelta(minutes=5), False)
    assert request.run_key and request.run_key.startswith("sla-")
    assert sla_request(reader, DEADLINE + timedelta(minutes=6), False).run_key == request.run_key
    assert sla_request(reader, DEADLINE + timedelta(minutes=5), True).__class__.__name__ == "SkipReason"


@pytest.mark.parametrize("minutes", [-1])
def test_a_negative_sla_is_refused(minutes: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        business_deadline(DECIDED, minutes, BERLIN)
