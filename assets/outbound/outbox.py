"""The transactional outbox: every side effect LeadOps makes is first a row of `ops.outbox_actions`.

A decision's actions (today the CRM's upsert, owner, task and note; Slack, email and meetings register
further kinds) are enqueued in one DuckDB transaction, keyed lead + kind + decision version, so planning
the same decision again adds nothing. An executor then sends what is due:

- one lead's actions run in the order they were enqueued, and nothing runs after an action that is waiting
  for a retry, parked as a dead letter or stopped by a conflict;
- each send is preceded by a committed `in_flight` mark; an action found `in_flight` later was interrupted
  between send and acknowledgement, and is sent again, which the targets absorb by their own idempotency
  (upsert by external id, look-up before create), so it is never performed twice;
- a transient failure is retried with exponential backoff and jitter, never sooner than the target's
  Retry-After; after `max_attempts` the action is parked as `dead` with its last error, for
  `leadops actions list|retry|cancel`;
- a conflict (a person changed in the target what the action would overwrite) stops the action as
  `conflict` and is recorded in `ops.crm_conflicts` for review, never overwritten.

Plain Python over a DuckDB connection: the Dagster assets, the retry job and the CLI share it.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import pandas as pd

OUTBOX_ACTIONS_DDL = """
create schema if not exists ops;
create table if not exists ops.outbox_actions (
    action_id varchar primary key,
    lead_id varchar not null,
    kind varchar not null,
    decision_version varchar not null,
    state_seq bigint,
    seq bigint not null,
    external_id varchar not null,
    payload_json varchar not null,
    payload_sha256 varchar not null,
    status varchar not null,
    attempts integer not null,
    next_attempt_at timestamp,
    last_error varchar,
    result_object_type varchar,
    result_record_id varchar,
    result_version integer,
    enqueued_at timestamp not null,
    updated_at timestamp not null
);
create table if not exists ops.crm_conflicts (
    action_id varchar not null,
    lead_id varchar not null,
    field varchar not null,
    leadops_value varchar,
    crm_value varchar,
    crm_record_id varchar,
    crm_version integer,
    snapshot_version integer,
    changed_by varchar,
    changed_at timestamp,
    detected_at timestamp not null
);
"""

PENDING = "pending"
IN_FLIGHT = "in_flight"
DONE = "done"
DEAD = "dead"
CONFLICT = "conflict"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
# Statuses that hold back a lead's later actions; done, cancelled and superseded ones do not.
OPEN_STATUSES = (PENDING, IN_FLIGHT, DEAD, CONFLICT)

# How the executor treats an error, as the action kind's `classify` names it.
TRANSIENT = "transient"
UNAVAILABLE = "unavailable"  # the whole target is gone: stop sending to it in this pass
PERMANENT = "permanent"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def action_key(lead_id: str, kind: str, decision_version: str) -> str:
    """The idempotency key: one action of a kind per lead and decision version."""
    return f"{lead_id}:{kind}:{decision_version}"


def decision_version(decision: Mapping[str, Any]) -> str:
    """A short hash of the decision as it is acted on: the same decision planned again has the same
    version; any changed value (a new owner, corrected details) gives a new one."""
    canonical = json.dumps(dict(decision), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PlannedAction:
    lead_id: str
    kind: str
    external_id: str
    payload: dict[str, Any]
    decision_version: str
    state_seq: int | None = None

    @property
    def action_id(self) -> str:
        return action_key(self.lead_id, self.kind, self.decision_version)

    @property
    def payload_sha256(self) -> str:
        canonical = json.dumps({"op": self.kind, **self.payload}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OutboxAction:
    """One row of ops.outbox_actions."""

    action_id: str
    lead_id: str
    kind: str
    decision_version: str
    seq: int
    external_id: str
    payload: dict[str, Any]
    payload_sha256: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    result_object_type: str | None = None
    result_record_id: str | None = None
    result_version: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OutboxAction:
        def clean(value: Any) -> Any:
            return None if value is None or (isinstance(value, float) and value != value) else value

        version = clean(row.get("result_version"))
        next_at = clean(row.get("next_attempt_at"))
        return cls(
            action_id=row["action_id"],
            lead_id=row["lead_id"],
            kind=row["kind"],
            decision_version=row["decision_version"],
            seq=int(row["seq"]),
            external_id=row["external_id"],
            payload=json.loads(row["payload_json"]),
            payload_sha256=row["payload_sha256"],
            status=row["status"],
            attempts=int(row["attempts"]),
            next_attempt_at=None if next_at is None or next_at is pd.NaT else next_at,
            last_error=clean(row.get("last_error")),
            result_object_type=clean(row.get("result_object_type")),
            result_record_id=clean(row.get("result_record_id")),
            result_version=None if version is None else int(version),
        )


@dataclass(frozen=True)
class Sent:
    """What the target answered: the record the action wrote or found."""

    object_type: str | None
    record_id: str | None
    version: int | None = None


class ActionConflict(Exception):
    """A person changed in the target what this action would overwrite since LeadOps last saw it."""

    def __init__(
        self,
        field: str,
        leadops_value: Any,
        target_value: Any,
        *,
        record_id: str | None,
        target_version: int | None,
        snapshot_version: int | None,
        changed_by: str | None,
        changed_at: datetime | None,
    ) -> None:
        super().__init__(
            f"{field} is {target_value!r} in the CRM (changed {changed_at} by {changed_by}),"
            f" LeadOps would write {leadops_value!r}: left as the person set it, lead sent to review"
        )
        self.field = field
        self.leadops_value = leadops_value
        self.target_value = target_value
        self.record_id = record_id
        self.target_version = target_version
        self.snapshot_version = snapshot_version
        self.changed_by = changed_by
        self.changed_at = changed_at


class SendContext:
    """What a handler may know besides its action: the targets' clients and the lead's done actions."""

    def __init__(self, clients: Mapping[str, Any], done: Mapping[tuple[str, str], OutboxAction]) -> None:
        self._clients = clients
        self._done = dict(done)

    def client(self, target: str) -> Any:
        try:
            return self._clients[target]
        except KeyError:
            raise LookupError(f"no client for target {target!r} was given to the executor") from None

    def latest_done(self, lead_id: str, kind: str) -> OutboxAction | None:
        return self._done.get((lead_id, kind))

    def mark_done(self, action: OutboxAction) -> None:
        self._done[(action.lead_id, action.kind)] = action


@dataclass(frozen=True)
class ActionKind:
    """A kind of side effect: which target's client it needs, how to send it, how to read its errors.

    `classify` maps an exception to TRANSIENT, UNAVAILABLE or PERMANENT, or None for an error that is not
    the target's (a bug): that one propagates, the action stays `in_flight` and the next pass resolves it.
    """

    name: str
    target: str
    send: Callable[[OutboxAction, SendContext], Sent]
    classify: Callable[[BaseException], str | None]
    retry_after: Callable[[BaseException], float | None] = field(
        default=lambda error: getattr(error, "retry_after", None)
    )


ACTION_KINDS: dict[str, ActionKind] = {}


def register_action_kind(kind: ActionKind) -> ActionKind:
    """Add a kind to the registry the executor dispatches on; its name is stored with every action."""
    existing = ACTION_KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"action kind {kind.name!r} is already registered")
    ACTION_KINDS[kind.name] = kind
    return kind


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, never sooner than the target's Retry-After."""

    max_attempts: int = 8
    base_delay_seconds: float = 30.0
    max_delay_seconds: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** max(0, attempts - 1))
        # Half fixed, half random ("equal jitter"): actions that failed together (a rate limit hits the
        # whole batch) come back spread over the second half of the window, not all at once.
        delay = backoff / 2 + rng.uniform(0, backoff / 2)
        return max(delay, retry_after) if retry_after is not None else delay


@dataclass(frozen=True)
class ActionResult:
    """One pass's outcome for one action, as ops.crm_writes records it."""

    action: OutboxAction
    status: str  # written | retry_scheduled | parked | conflict
    attempts: int
    error: str | None
    object_type: str | None
    record_id: str | None
    at: datetime
    resumed: bool = False  # it was found in_flight: an interrupted send, resolved by resending


# ---------------------------------------------------------------------------------------------- enqueue


@dataclass(frozen=True)
class EnqueueSummary:
    enqueued: int
    unchanged: int
    superseded: int


def enqueue_actions(con, planned: Sequence[PlannedAction], now: datetime) -> EnqueueSummary:
    """Add the planned actions that are new, inside the caller's transaction.

    An action whose key is already there, or whose payload is what the latest action of its lead and kind
    already carries (sent, waiting or parked), adds nothing. A newer payload supersedes that kind's
    earlier actions not yet done (a parked upsert with the old details is not sent after the new one).
    """
    if not planned:
        return EnqueueSummary(0, 0, 0)
    latest = {
        (lead_id, kind): (sha, action_id)
        for lead_id, kind, sha, action_id in con.execute(
            "select lead_id, kind, payload_sha256, action_id from ops.outbox_actions"
            f" where status <> '{SUPERSEDED}'"
            " qualify row_number() over (partition by lead_id, kind order by seq desc) = 1"
        ).fetchall()
    }
    existing_ids = {action_id for _, action_id in latest.values()}
    new: list[PlannedAction] = []
    seen: set[str] = set()
    for action in planned:
        previous = latest.get((action.lead_id, action.kind))
        if action.action_id in seen or action.action_id in existing_ids:
            continue
        if previous is not None and previous[0] == action.payload_sha256:
            continue
        seen.add(action.action_id)
        new.append(action)
    if not new:
        return EnqueueSummary(0, len(planned), 0)
    [(last_seq,)] = con.execute("select coalesce(max(seq), 0) from ops.outbox_actions").fetchall()
    superseded = 0
    for lead_id, kind in dict.fromkeys((action.lead_id, action.kind) for action in new):
        [(count,)] = con.execute(
            "select count(*) from ops.outbox_actions where lead_id = ? and kind = ?"
            f" and status in ('{PENDING}', '{DEAD}', '{CONFLICT}')",
            [lead_id, kind],
        ).fetchall()
        if count:
            con.execute(
                f"update ops.outbox_actions set status = '{SUPERSEDED}', updated_at = ?"
                f" where lead_id = ? and kind = ? and status in ('{PENDING}', '{DEAD}', '{CONFLICT}')",
                [now, lead_id, kind],
            )
            superseded += int(count)
    frame = pd.DataFrame(
        {
            "action_id": [action.action_id for action in new],
            "lead_id": [action.lead_id for action in new],
            "kind": [action.kind for action in new],
            "decision_version": [action.decision_version for action in new],
            "state_seq": pd.array([action.state_seq for action in new], dtype="Int64"),
            "seq": range(int(last_seq) + 1, int(last_seq) + 1 + len(new)),
            "external_id": [action.external_id for action in new],
            "payload_json": [json.dumps(action.payload, sort_keys=True, default=str) for action in new],
            "payload_sha256": [action.payload_sha256 for action in new],
        }
    )
    con.register("_outbox_new_actions", frame)
    try:
        con.execute(
            "insert into ops.outbox_actions select action_id, lead_id, kind, decision_version, state_seq,"
            f" seq, external_id, payload_json, payload_sha256, '{PENDING}', 0, ?, null, null, null, null,"
            " ?, ? from _outbox_new_actions",
            [now, now, now],
        )
    finally:
        con.unregister("_outbox_new_actions")
    return EnqueueSummary(len(new), len(planned) - len(new), superseded)


def reopen(con, action_id: str, reason: str, now: datetime) -> None:
    """Send a done action again (the target lost what it wrote): due now, attempts counted afresh."""
    con.execute(
        f"update ops.outbox_actions set status = '{PENDING}', attempts = 0, next_attempt_at = ?,"
        " last_error = ?, updated_at = ? where action_id = ?",
        [now, reason, now, action_id],
    )


def schedule_retry(con, action_id: str, reason: str, at: datetime, now: datetime) -> None:
    """Put a done action back as pending at `at` (a write the target did not confirm)."""
    con.execute(
        f"update ops.outbox_actions set status = '{PENDING}', next_attempt_at = ?, last_error = ?,"
        " updated_at = ? where action_id = ?",
        [at, reason, now, action_id],
    )


# --------------------------------------------------------------------------------------------- executor


def _actions(con, where: str, parameters: Sequence[Any] = ()) -> list[OutboxAction]:
    frame = con.execute(f"select * from ops.outbox_actions where {where} order by lead_id, seq", parameters)
    return [OutboxAction.from_row(row) for row in frame.df().to_dict("records")]


def due_count(con, now: datetime) -> int:
    """Actions a pass would try now: the first open action of each lead, when it is due or in flight."""
    [(count,)] = con.execute(
        f"""
        with first_open as (
            select * from ops.outbox_actions where status in {OPEN_STATUSES}
            qualify row_number() over (partition by lead_id order by seq) = 1
        )
        select count(*) from first_open
        where status = '{IN_FLIGHT}' or (status = '{PENDING}' and coalesce(next_attempt_at, ?) <= ?)
        """,
        [now, now],
    ).fetchall()
    return int(count)


def next_due_at(con) -> datetime | None:
    """When the earliest lead's next action is due (in flight counts as due now: None when nothing is)."""
    [(earliest,)] = con.execute(
        f"""
        with first_open as (
            select * from ops.outbox_actions where status in {OPEN_STATUSES}
            qualify row_number() over (partition by lead_id order by seq) = 1
        )
        select min(case when status = '{IN_FLIGHT}' then timestamp '1970-01-01'
                        else coalesce(next_attempt_at, timestamp '1970-01-01') end)
        from first_open where status in ('{PENDING}', '{IN_FLIGHT}')
        """
    ).fetchall()
    return earliest


def run_due_actions(
    con,
    clients: Mapping[str, Any],
    policy: RetryPolicy,
    *,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    leads: Iterable[str] | None = None,
) -> list[ActionResult]:
    """Send every due action, lead by lead in enqueue order; each state change is committed as it
    happens, so a process that dies leaves at most one action per lead `in_flight`."""
    rng = rng or random.Random()
    open_actions = _actions(con, f"status in {OPEN_STATUSES}")
    if leads is not None:
        wanted = set(leads)
        open_actions = [action for action in open_actions if action.lead_id in wanted]
    if not open_actions:
        return []
    lead_ids = sorted({action.lead_id for action in open_actions})
    con.register("_outbox_leads", pd.DataFrame({"lead_id": lead_ids}))
    try:
        done = _actions(
            con,
            f"status = '{DONE}' and lead_id in (select lead_id from _outbox_leads)"
            " qualify row_number() over (partition by lead_id, kind order by seq desc) = 1",
        )
    finally:
        con.unregister("_outbox_leads")
    context = SendContext(clients, {(action.lead_id, action.kind): action for action in done})
    unavailable: set[str] = set()
    results: list[ActionResult] = []
    for _, lead_actions in groupby(open_actions, key=lambda action: action.lead_id):
        for action in lead_actions:
            result = _run_one(con, action, context, policy, now, rng, unavailable)
            if result is None:
                break
            results.append(result)
            if result.status != "written":
                break
    return results


def _run_one(
    con,
    action: OutboxAction,
    context: SendContext,
    policy: RetryPolicy,
    now: Callable[[], datetime],
    rng: random.Random,
    unavailable: set[str],
) -> ActionResult | None:
    """Send one action if it may go now; None when it waits (and with it the lead's later actions)."""
    if action.status in (DEAD, CONFLICT):
        return None
    moment = now()
    if action.status == PENDING and action.next_attempt_at is not None and action.next_attempt_at > moment:
        return None
    kind = ACTION_KINDS.get(action.kind)
    if kind is None:
        _set(
            con, action.action_id, DEAD, action.attempts, None, f"unknown action kind {action.kind!r}", moment
        )
        return ActionResult(
            action, "parked", action.attempts, f"unknown action kind {action.kind!r}", None, None, moment
        )
    if kind.target in unavailable:
        return None
    resumed = action.status == IN_FLIGHT
    attempts = action.attempts + 1
    _set(con, action.action_id, IN_FLIGHT, attempts, action.next_attempt_at, action.last_error, moment)
    try:
        sent = kind.send(action, context)
    except ActionConflict as conflict:
        moment = now()
        _set(con, action.action_id, CONFLICT, attempts, None, str(conflict), moment)
        record_conflict(con, action, conflict, moment)
        return ActionResult(
            action, CONFLICT, attempts, str(conflict), None, conflict.record_id, moment, resumed
        )
    except Exception as error:
        verdict = kind.classify(error)
        if verdict is None:
            raise
        moment = now()
        message = f"{verdict}: {error}"
        if verdict == UNAVAILABLE:
            unavailable.add(kind.target)
        if verdict == PERMANENT or attempts >= policy.max_attempts:
            _set(con, action.action_id, DEAD, attempts, None, message, moment)
            return ActionResult(action, "parked", attempts, message, None, None, moment, resumed)
        delay = policy.delay(attempts, kind.retry_after(error), rng)
        _set(con, action.action_id, PENDING, attempts, moment + timedelta(seconds=delay), message, moment)
        return ActionResult(action, "retry_scheduled", attempts, message, None, None, moment, resumed)
    moment = now()
    con.execute(
        f"update ops.outbox_actions set status = '{DONE}', attempts = ?, next_attempt_at = null,"
        " last_error = null, result_object_type = ?, result_record_id = ?, result_version = ?,"
        " updated_at = ? where action_id = ?",
        [attempts, sent.object_type, sent.record_id, sent.version, moment, action.action_id],
    )
    done = OutboxAction(
        **{
            **action.__dict__,
            "status": DONE,
            "attempts": attempts,
            "result_object_type": sent.object_type,
            "result_record_id": sent.record_id,
            "result_version": sent.version,
        }
    )
    context.mark_done(done)
    return ActionResult(done, "written", attempts, None, sent.object_type, sent.record_id, moment, resumed)


def _set(
    con,
    action_id: str,
    status: str,
    attempts: int,
    next_at: datetime | None,
    error: str | None,
    now: datetime,
) -> None:
    # Autocommitted: the in_flight mark must be durable before the send it announces.
    con.execute(
        "update ops.outbox_actions set status = ?, attempts = ?, next_attempt_at = ?, last_error = ?,"
        " updated_at = ? where action_id = ?",
        [status, attempts, next_at, error, now, action_id],
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def record_conflict(con, action: OutboxAction, conflict: ActionConflict, now: datetime) -> None:
    con.execute(
        "insert into ops.crm_conflicts values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            action.action_id,
            action.lead_id,
            conflict.field,
            _text(conflict.leadops_value),
            _text(conflict.target_value),
            conflict.record_id,
            conflict.target_version,
            conflict.snapshot_version,
            conflict.changed_by,
            conflict.changed_at,
            now,
        ],
    )


# ------------------------------------------------------------------------------------ operator commands


def list_actions(con, statuses: Sequence[str] | None = None, lead_id: str | None = None) -> pd.DataFrame:
    """The outbox for `leadops actions list`: dead letters and conflicts first, then by lead and order."""
    clauses, parameters = [], []
    if statuses:
        clauses.append(f"status in ({', '.join('?' for _ in statuses)})")
        parameters.extend(statuses)
    if lead_id:
        clauses.append("lead_id = ?")
        parameters.append(lead_id)
    where = " and ".join(clauses) or "true"
    return con.execute(
        "select action_id, lead_id, kind, status, attempts, next_attempt_at, last_error, updated_at"
        f" from ops.outbox_actions where {where}"
        f" order by case status when '{DEAD}' then 0 when '{CONFLICT}' then 1 when '{IN_FLIGHT}' then 2"
        f" when '{PENDING}' then 3 else 4 end, lead_id, seq",
        parameters,
    ).df()


class UnknownAction(LookupError):
    """No action has this id, or it is not in a state the command applies to."""


def retry_action(con, action_id: str, now: datetime) -> None:
    """A parked (dead) or conflicted action is due again now, with a fresh count of attempts."""
    _change(con, action_id, (DEAD, CONFLICT, PENDING), PENDING, now, attempts=0)


def cancel_action(con, action_id: str, now: datetime) -> None:
    """The action will never be sent; the lead's later actions no longer wait for it."""
    _change(con, action_id, (DEAD, CONFLICT, PENDING), CANCELLED, now)


def _change(
    con, action_id: str, allowed: Sequence[str], status: str, now: datetime, attempts: int | None = None
) -> None:
    rows = con.execute("select status from ops.outbox_actions where action_id = ?", [action_id]).fetchall()
    if not rows:
        raise UnknownAction(f"no action {action_id!r} in the outbox (`leadops actions list` shows them)")
    [(current,)] = rows
    if current not in allowed:
        raise UnknownAction(f"action {action_id} is {current}; only {', '.join(allowed)} ones can change")
    con.execute(
        "update ops.outbox_actions set status = ?, attempts = coalesce(?, attempts), next_attempt_at = ?,"
        " updated_at = ? where action_id = ?",
        [status, attempts, now if status == PENDING else None, now, action_id],
    )
