"""First-touch SLAs in business time: remind the owner, then re-route to the team's next active owner.

A routed lead is touched when an outcome event of kind `first_touch` names it (raw.outcome_events, written
by the feedback stage), or when the CRM shows it was worked: read through the CRM port for each lead whose
step is due, just before the step is taken, a lead status only a person sets (LeadOps writes routed,
escalated and disqualified) or its first-touch task done. A touch read from the CRM is logged as `touched`
in `ops.sla_events`, so the sensor sees it in the reader copy and asks nothing more for that lead. Its
deadline is its SLA minutes of the team's business time (business_hours, business_holidays) after the
decision, or after its latest SLA re-route. A lead past its deadline and still untouched takes these steps,
each logged in `ops.sla_events`:

1. `reminded`: the owner is reminded by an outbox Slack action (a DM, or the team channel);
2. `rerouted`: where the team's `reroute_on_breach` says so and `reroute_after_minutes` of business time
   passed since the reminder, the lead goes to the team's next active owner (by owner id, after the
   current one, never back to an owner it already had): a logged `routed -> routed` state transition with
   the owners, the reason and the missed deadline as evidence, a CRM owner assignment and a Slack alert
   to the new owner through the outbox; the CRM sync keeps that owner from then on (`apply_reroutes`).
   With no other active owner the lead is `escalated` to the team's review channel instead.

The new owner's deadline starts at the re-route; the steps repeat for them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from assets.outbound.business_time import as_utc, business_deadline
from assets.outbound.crm_sync import ASSIGN_OWNER, LINK_CONTACT, UPSERT, first_touch_task_id
from assets.outbound.notifications import (
    SLACK_ASSIGNMENT,
    SLACK_ESCALATION,
    SLACK_SLA_REMINDER,
    NotificationPolicy,
    NotificationTargets,
    assignment_alert,
    lead_facts,
    lead_summary,
    load_policy,
    owner_directory,
    table_exists,
    text_or_none,
)
from assets.outbound.outbox import (
    CANCELLED,
    SUPERSEDED,
    EnqueueSummary,
    PlannedAction,
    decision_version,
    enqueue_actions,
)
from integrations.crm.models import ObjectType
from integrations.crm.port import CrmPort
from integrations.slack.port import Escalation, LeadSummary

SLA_EVENTS_DDL = """
create schema if not exists ops;
create table if not exists ops.sla_events (
    lead_id varchar not null,
    owner_id varchar not null,
    step varchar not null,
    deadline timestamp not null,
    "at" timestamp not null,
    new_owner_id varchar,
    detail varchar
);
"""

REMIND = "remind"
REROUTE = "reroute"
REMINDED = "reminded"
REROUTED = "rerouted"
ESCALATED = "escalated"
TOUCHED = "touched"
# CRM lead statuses only a person sets: a rep answering, booking or closing the lead. LeadOps itself writes
# routed, escalated or disqualified (sync_crm_leads.lead_status).
WORKED_LEAD_STATUSES = frozenset({"awaiting_response", "meeting_requested", "meeting_booked", "closed"})
# A task done, as the adapters read it back: "done" (embedded, HubSpot COMPLETED, Salesforce Completed), or
# BottleCRM's own "Completed".
DONE_TASK_STATUSES = frozenset({"done", "completed"})
SLA_ACTOR = "leadops-sla"
# Logged states from which a re-route continues (lead_state_transitions: routed|awaiting_response -> routed).
_REROUTABLE_STATES = ("routed", "awaiting_response")


@dataclass(frozen=True)
class SlaStep:
    """What one untouched lead past its deadline needs now."""

    lead_id: str
    team: str | None
    owner_id: str
    step: str  # remind | reroute
    deadline: datetime  # aware UTC
    reminded_at: datetime | None = None


@dataclass(frozen=True)
class SlaOutcome:
    steps: tuple[SlaStep, ...]
    events: tuple[dict[str, Any], ...]
    enqueued: EnqueueSummary


def _naive(moment: datetime) -> datetime:
    return as_utc(moment).replace(tzinfo=None)


def _events(con) -> pd.DataFrame:
    if not table_exists(con, "ops", "sla_events"):
        return pd.DataFrame(
            columns=["lead_id", "owner_id", "step", "deadline", "at", "new_owner_id", "detail"]
        )
    return con.execute('select * from ops.sla_events order by "at"').df()


def current_owners(con) -> dict[str, tuple[str, datetime]]:
    """Leads the SLA re-routed: their owner now and when the re-route started that owner's clock."""
    events = _events(con)
    rerouted = events[events["step"] == REROUTED]
    return {
        row["lead_id"]: (row["new_owner_id"], row["at"].to_pydatetime())
        for row in rerouted.to_dict("records")
    }


def apply_reroutes(con, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The CRM sync's rows with the owner an SLA re-route gave each lead, so the sync does not put the
    round-robin owner back: lead_decisions keeps the decided owner (round robin reads ops.sla_events only
    to count the re-routed lead for its new owner)."""
    owners = current_owners(con)
    return [
        {**row, "owner_id": owners[row["lead_id"]][0]} if row.get("lead_id") in owners else dict(row)
        for row in rows
    ]


def _touched(con) -> set[str]:
    """Leads with a first touch: a first_touch outcome event, or a touch an SLA run read from the CRM."""
    events = _events(con)
    touched = set(events.loc[events["step"] == TOUCHED, "lead_id"])
    if not table_exists(con, "raw", "outcome_events"):
        return touched
    return touched | {
        lead_id
        for (lead_id,) in con.execute(
            "select distinct lead_id from raw.outcome_events where kind = 'first_touch'"
        ).fetchall()
    }


def crm_first_touches(crm: CrmPort, lead_ids: Sequence[str]) -> dict[str, str]:
    """The leads among `lead_ids` the CRM shows were worked, each with what showed it: the lead record's
    status moved on to one only a person sets, or the lead's first-touch task done. Two reads, whatever
    the number of leads."""
    if not lead_ids:
        return {}
    leads = crm.read_by_external_ids(ObjectType.LEAD, lead_ids)
    tasks = crm.read_by_external_ids(ObjectType.TASK, [first_touch_task_id(lead_id) for lead_id in lead_ids])
    touches: dict[str, str] = {}
    for lead_id in lead_ids:
        lead = leads.get(lead_id)
        status = text_or_none(lead.fields.get("status")) if lead else None
        task = tasks.get(first_touch_task_id(lead_id))
        task_status = text_or_none(task.fields.get("status")) if task else None
        if status in WORKED_LEAD_STATUSES:
            touches[lead_id] = f"CRM lead {lead.record_id} has status {status}"
        elif task_status and task_status.lower() in DONE_TASK_STATUSES:
            touches[lead_id] = f"CRM first-touch task {task.record_id} is {task_status}"
    return touches


def _logged_states(con) -> dict[str, str] | None:
    if not table_exists(con, "ops", "lead_state_log"):
        return None
    return dict(
        con.execute("select lead_id, arg_max(to_state, seq) from ops.lead_state_log group by 1").fetchall()
    )


def due_sla_steps(con, now: datetime, policy: NotificationPolicy | None = None) -> list[SlaStep]:
    """The steps due at `now`, read-only (the SLA sensor runs it on the reader copy)."""
    if not table_exists(con, "marts", "lead_decisions"):
        return []
    policy = policy or load_policy(con)
    moment = as_utc(now)
    decisions = con.execute(
        "select lead_id, team, owner_id, decided_at, sla_minutes from marts.lead_decisions"
        " where disposition = 'route' and owner_id is not null and decided_at is not null order by lead_id"
    ).df()
    touched = _touched(con)
    owners = current_owners(con)
    states = _logged_states(con)
    events = _events(con)
    reminded = {
        (row["lead_id"], row["owner_id"]): row["at"].to_pydatetime()
        for row in events[events["step"] == REMINDED].to_dict("records")
    }
    closed = {
        (row["lead_id"], row["owner_id"])
        for row in events[events["step"].isin([REROUTED, ESCALATED])].to_dict("records")
    }
    steps: list[SlaStep] = []
    for row in decisions.to_dict("records"):
        lead_id = row["lead_id"]
        if lead_id in touched or (states is not None and states.get(lead_id) not in _REROUTABLE_STATES):
            continue
        owner_id, started = owners.get(lead_id, (row["owner_id"], row["decided_at"].to_pydatetime()))
        if (lead_id, owner_id) in closed:
            continue
        hours = policy.business_hours(text_or_none(row["team"]))
        minutes = 0 if text_or_none(row["sla_minutes"]) is None else float(row["sla_minutes"])
        deadline = business_deadline(started, minutes, hours)
        if deadline > moment:
            continue
        reminder = reminded.get((lead_id, owner_id))
        if reminder is None:
            steps.append(SlaStep(lead_id, text_or_none(row["team"]), owner_id, REMIND, deadline))
        elif (
            hours.reroute_on_breach
            and business_deadline(reminder, hours.reroute_after_minutes, hours) <= moment
        ):
            steps.append(SlaStep(lead_id, text_or_none(row["team"]), owner_id, REROUTE, deadline, reminder))
    return steps


def next_active_owner(
    owners: Mapping[str, Mapping[str, Any]], team: str | None, current: str, had: set[str]
) -> str | None:
    """The team's next active owner after `current` by owner id (wrapping round), skipping every owner
    the lead already had: the round-robin order, one step on."""
    candidates = sorted(
        owner_id
        for owner_id, owner in owners.items()
        if text_or_none(owner.get("team")) == team and bool(owner.get("is_active")) and owner_id not in had
    )
    if not candidates:
        return None
    later = [owner_id for owner_id in candidates if owner_id > current]
    return (later or candidates)[0]


def _transition_rule(con, from_state: str) -> list[str] | None:
    """The evidence keys rules.lead_state_transitions requires for from_state -> routed; None if refused."""
    if not table_exists(con, "rules", "lead_state_transitions"):
        return None
    rows = con.execute(
        "select required_evidence from rules.lead_state_transitions"
        " where from_state = ? and to_state = 'routed'",
        [from_state],
    ).fetchall()
    if not rows:
        return None
    return [key.strip() for key in str(rows[0][0] or "").split(";") if key.strip()]


def _policy_version(policy: NotificationPolicy) -> str:
    canonical = json.dumps(
        {team: repr(hours) for team, hours in sorted(policy.hours.items())}, sort_keys=True, default=str
    )
    return "sla:" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _log_reroute(
    con, lead_id: str, from_state: str, evidence: Mapping[str, Any], rules_version: str, at: datetime
) -> None:
    """Append the re-route to ops.lead_state_log as the transition table allows it, or raise."""
    required = _transition_rule(con, from_state)
    if required is None:
        raise ValueError(
            f"lead {lead_id}: rules.lead_state_transitions does not allow {from_state} -> routed"
        )
    missing = [key for key in required if text_or_none(evidence.get(key)) is None]
    if missing:
        raise ValueError(f"lead {lead_id}: {from_state} -> routed needs evidence {missing}")
    [(last_seq,)] = con.execute("select coalesce(max(seq), 0) from ops.lead_state_log").fetchall()
    con.execute(
        'insert into ops.lead_state_log (lead_id, from_state, to_state, "at", actor, evidence_json,'
        " rules_version, seq) values (?, ?, 'routed', ?, ?, ?, ?, ?)",
        [
            lead_id,
            from_state,
            _naive(at),
            SLA_ACTOR,
            json.dumps(dict(evidence), sort_keys=True, default=str),
            rules_version,
            int(last_seq) + 1,
        ],
    )


def _prerequisites(con, lead_id: str) -> list[str]:
    kinds = {
        kind
        for (kind,) in con.execute(
            "select distinct kind from ops.outbox_actions where lead_id = ?"
            f" and status not in ('{SUPERSEDED}', '{CANCELLED}')",
            [lead_id],
        ).fetchall()
    }
    return sorted(kinds & {UPSERT, LINK_CONTACT, ASSIGN_OWNER})


def enforce_sla(
    con,
    now: datetime,
    targets: NotificationTargets,
    policy: NotificationPolicy | None = None,
    crm: CrmPort | None = None,
) -> SlaOutcome:
    """Take every due step: log it, log a re-route's transition, enqueue its outbox actions (one
    transaction). Sending is the caller's (the outbox executor, right after).

    With `crm`, a due lead the CRM shows was worked is logged `touched` instead: nobody is reminded and
    nothing re-routed. A CRM error propagates before anything is logged, so no lead is re-routed while
    the CRM cannot say whether it was touched."""
    con.execute(SLA_EVENTS_DDL)
    policy = policy or load_policy(con)
    steps = due_sla_steps(con, now, policy)
    touches = crm_first_touches(crm, [step.lead_id for step in steps]) if crm is not None else {}
    at = as_utc(now)
    touched_events = [
        _event(step, TOUCHED, at, None, touches[step.lead_id]) for step in steps if step.lead_id in touches
    ]
    steps = [step for step in steps if step.lead_id not in touches]
    if not steps:
        if touched_events:
            _insert_events(con, touched_events)
        return SlaOutcome((), tuple(touched_events), EnqueueSummary(0, 0, 0))
    facts = lead_facts(con, [step.lead_id for step in steps])
    owners = owner_directory(con)
    states = _logged_states(con) or {}
    version = _policy_version(policy)
    history = _events(con)
    planned: list[PlannedAction] = []
    events: list[dict[str, Any]] = list(touched_events)
    con.execute("begin")
    try:
        for step in steps:
            lead = facts.get(step.lead_id, {"lead_id": step.lead_id})
            summary = lead_summary(step.lead_id, lead, lead)
            team = policy.team(step.team)
            requires = _prerequisites(con, step.lead_id)
            key = decision_version({"lead": step.lead_id, "owner": step.owner_id, "deadline": step.deadline})
            if step.step == REMIND:
                detail = "no Slack configured: nothing sent"
                if targets.slack:
                    alert = assignment_alert(
                        summary,
                        owners.get(step.owner_id, {}),
                        team,
                        step.deadline,
                        f"First-touch SLA missed (due {step.deadline:%Y-%m-%d %H:%M} UTC):"
                        " please answer now.",
                    )
                    if alert is not None:
                        planned.append(
                            PlannedAction(
                                step.lead_id,
                                SLACK_SLA_REMINDER,
                                f"{step.lead_id}:sla_reminder:{step.owner_id}",
                                {"alert": alert, "requires": requires},
                                key,
                            )
                        )
                        detail = "Slack reminder enqueued"
                events.append(_event(step, REMINDED, at, None, detail))
                continue
            # Every owner the lead had was reminded before it left them: the history names them all.
            had = {step.owner_id, *history.loc[history["lead_id"] == step.lead_id, "owner_id"]}
            new_owner = next_active_owner(owners, step.team, step.owner_id, had)
            if new_owner is None:
                detail = "no other active owner in the team: sent to review"
                if targets.slack and team.review_channel:
                    escalation = Escalation(
                        lead=LeadSummary(**summary),
                        review_channel=team.review_channel,
                        sla_deadline=step.deadline,
                        reason=f"First-touch SLA missed by {step.owner_id}; no other active owner is free.",
                        current_owner=text_or_none(owners.get(step.owner_id, {}).get("owner_name"))
                        or step.owner_id,
                    )
                    planned.append(
                        PlannedAction(
                            step.lead_id,
                            SLACK_ESCALATION,
                            f"{step.lead_id}:sla_escalation:{step.owner_id}",
                            {"escalation": escalation.model_dump(mode="json"), "requires": requires},
                            key,
                        )
                    )
                events.append(_event(step, ESCALATED, at, None, detail))
                continue
            reason = (
                f"first-touch SLA missed by {step.owner_id} (due {step.deadline:%Y-%m-%d %H:%M} UTC,"
                f" reminded {step.reminded_at:%Y-%m-%d %H:%M} UTC): re-routed to the next active owner"
            )
            _log_reroute(
                con,
                step.lead_id,
                states.get(step.lead_id, "routed"),
                {
                    "owner_id": new_owner,
                    "previous_owner_id": step.owner_id,
                    "reason": reason,
                    "team": step.team,
                    "sla_deadline": step.deadline.isoformat(),
                    "reminded_at": as_utc(step.reminded_at).isoformat() if step.reminded_at else None,
                },
                version,
                at,
            )
            events.append(_event(step, REROUTED, at, new_owner, reason))
            reroute_key = decision_version({"lead": step.lead_id, "owner": new_owner, "at": at})
            if UPSERT in requires:
                planned.append(
                    PlannedAction(
                        step.lead_id, ASSIGN_OWNER, step.lead_id, {"owner_id": new_owner}, reroute_key
                    )
                )
            if targets.slack:
                deadline = business_deadline(at, _sla_minutes(lead), policy.business_hours(step.team))
                alert = assignment_alert(summary, owners.get(new_owner, {}), team, deadline, reason[:300])
                if alert is not None:
                    planned.append(
                        PlannedAction(
                            step.lead_id,
                            SLACK_ASSIGNMENT,
                            f"{step.lead_id}:assignment:{new_owner}",
                            {"alert": alert, "requires": requires},
                            reroute_key,
                        )
                    )
        _insert_events(con, events)
        enqueued = enqueue_actions(con, planned, _naive(at))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return SlaOutcome(tuple(steps), tuple(events), enqueued)


def _sla_minutes(lead: Mapping[str, Any]) -> float:
    value = text_or_none(lead.get("sla_minutes"))
    return 0.0 if value is None else float(value)


def _event(step: SlaStep, name: str, at: datetime, new_owner: str | None, detail: str) -> dict[str, Any]:
    return {
        "lead_id": step.lead_id,
        "owner_id": step.owner_id,
        "step": name,
        "deadline": _naive(step.deadline),
        "at": _naive(at),
        "new_owner_id": new_owner,
        "detail": detail,
    }


def _insert_events(con, events: Sequence[Mapping[str, Any]]) -> None:
    for event in events:
        con.execute(
            'insert into ops.sla_events (lead_id, owner_id, step, deadline, "at", new_owner_id, detail)'
            " values (?, ?, ?, ?, ?, ?, ?)",
            [
                event[name]
                for name in ("lead_id", "owner_id", "step", "deadline", "at", "new_owner_id", "detail")
            ],
        )


def now_utc() -> datetime:
    return datetime.now(UTC)
