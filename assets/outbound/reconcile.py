"""Reconciliation: what the outbox says was written against what the CRM holds.

The outbox skips a write whose payload it already sent, so a CRM that lost records (its file deleted and
initialised again, or restored from an older backup) would never get them back, and every run would go on
reporting them as written. Each sync therefore:

1. checks every write the outbox is about to skip (its action is done with the same payload); one the CRM
   no longer holds is reopened and sent again (upserts and creates are keyed by external id, so a redo
   never duplicates), while what a person changed in the CRM (the lead's owner) is flagged, recorded as a
   conflict for review and left as the person set it;
2. enqueues the new actions and sends the due ones (assets/outbound/outbox.py);
3. reads back every write of the pass: only what the CRM holds counts as written, anything else is logged
   `unconfirmed` and its action put back as pending, due after the policy's first backoff.

The findings of the latest sync are kept in `ops.crm_reconciliation`; every send is logged in
`ops.crm_writes`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from assets.outbound.crm_sync import (
    ADD_NOTE,
    ASSIGN_OWNER,
    CREATE_TASK,
    CRM_TARGET,
    LINK_CONTACT,
    OUTBOX_DDL,
    PLAN,
    UPSERT,
    RefusedRow,
    plan_actions,
)
from assets.outbound.notifications import log_notifications, plan_for_sync
from assets.outbound.outbox import (
    DONE,
    OPEN_STATUSES,
    OUTBOX_ACTIONS_DDL,
    ActionConflict,
    ActionResult,
    EnqueueSummary,
    OutboxAction,
    PlannedAction,
    RetryPolicy,
    enqueue_actions,
    record_conflict,
    reopen,
    run_due_actions,
    schedule_retry,
    utc_now,
)
from assets.outbound.sla import apply_reroutes
from integrations.crm.models import CrmRecord, ObjectType
from integrations.crm.port import CrmPort, CrmTransientError, CrmUnavailableError

RECONCILIATION_DDL = """
create schema if not exists ops;
create table if not exists ops.crm_reconciliation (
    lead_id varchar not null,
    operation varchar not null,
    external_id varchar not null,
    finding varchar not null,
    action varchar not null,
    detail varchar,
    checked_at timestamp not null
);
"""

# Findings, and what the sync did about each.
MISSING = "missing_in_crm"  # the outbox wrote it, the CRM does not hold it: sent again this run
OWNER_CHANGED = "owner_changed_in_crm"  # someone reassigned the lead in the CRM: flagged, not overwritten
CONTACT_MISSING = "contact_missing_in_crm"  # the existing contact a lead was linked to is gone: flagged
UNCONFIRMED = "unconfirmed"  # a write of this run the CRM does not hold: not counted, sent again next run

RESENT = "resent"
FLAGGED = "flagged"
RESEND_NEXT_RUN = "resend_next_run"

# Outbox status of a write the CRM did not confirm; the outbox only skips `written` and `unchanged`.
UNCONFIRMED_STATUS = "unconfirmed"
_CLAIMED = frozenset({"written", "unchanged"})


@dataclass(frozen=True)
class Finding:
    lead_id: str
    operation: str
    external_id: str
    finding: str
    action: str
    detail: str
    checked_at: datetime


@dataclass(frozen=True)
class SyncOutcome:
    results: list[ActionResult]
    findings: list[Finding]
    # Why the CRM could not be read back, when it could not: every write of the pass is then unconfirmed.
    crm_unavailable: str | None = None
    refused: tuple[RefusedRow, ...] = ()
    enqueued: EnqueueSummary = field(default_factory=lambda: EnqueueSummary(0, 0, 0))

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in [result.status for result in self.results] + ["parked"] * len(self.refused):
            counts[status] = counts.get(status, 0) + 1
        return counts


class CrmHoldings:
    """The CRM records a set of writes should have produced, read in one batch per object type."""

    def __init__(self, crm: CrmPort, writes: Iterable[tuple[str, str]]) -> None:
        external_ids: dict[ObjectType, list[str]] = {
            ObjectType.LEAD: [],
            ObjectType.TASK: [],
            ObjectType.NOTE: [],
        }
        contact_ids: list[str] = []
        for operation, external_id in writes:
            if operation == LINK_CONTACT:
                contact_ids.append(external_id)
            elif operation in _OBJECT_OF:
                external_ids[_OBJECT_OF[operation]].append(external_id)
        self._found: dict[ObjectType, dict[str, CrmRecord]] = {
            object_type: crm.read_by_external_ids(object_type, ids) if ids else {}
            for object_type, ids in external_ids.items()
        }
        # A linked contact is the CRM's own record, known by its record id, not by an external id.
        self._contacts = {
            contact_id: crm.get_record(ObjectType.CONTACT, record_id=contact_id) is not None
            for contact_id in dict.fromkeys(contact_ids)
        }

    def holds(self, operation: str, external_id: str) -> bool:
        if operation == LINK_CONTACT:
            return self._contacts.get(external_id, False)
        if operation not in _OBJECT_OF:
            return True  # another target's action (Slack, email): not the CRM's to confirm
        # An owner assignment lands on the lead record; whose it is now is `record`'s question.
        return external_id in self._found[_OBJECT_OF[operation]]

    def record(self, lead_external_id: str) -> CrmRecord:
        return self._found[ObjectType.LEAD][lead_external_id]


_OBJECT_OF: Mapping[str, ObjectType] = {
    UPSERT: ObjectType.LEAD,
    ASSIGN_OWNER: ObjectType.LEAD,
    CREATE_TASK: ObjectType.TASK,
    ADD_NOTE: ObjectType.NOTE,
}


def _repair(
    con,
    redo: Sequence[OutboxAction],
    conflicts: Sequence[tuple[OutboxAction, ActionConflict]],
    now: Callable[[], datetime],
) -> None:
    """What reconciliation does about its findings, inside the caller's transaction: what the CRM lost is
    due again now; an owner a person changed is a conflict for review, recorded once per CRM version."""
    for action in redo:
        reopen(con, action.action_id, "missing in the CRM: sent again", now())
    for action, conflict in conflicts:
        [(known,)] = con.execute(
            "select count(*) from ops.crm_conflicts where action_id = ? and crm_value is not distinct from ?"
            " and crm_version is not distinct from ?",
            [action.action_id, _text(conflict.target_value), conflict.target_version],
        ).fetchall()
        if not known:
            record_conflict(con, action, conflict, now())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _latest_done(con) -> dict[tuple[str, str], OutboxAction]:
    frame = con.execute(
        f"select * from ops.outbox_actions where status = '{DONE}'"
        " qualify row_number() over (partition by lead_id, kind order by seq desc) = 1"
    ).df()
    return {(row["lead_id"], row["kind"]): OutboxAction.from_row(row) for row in frame.to_dict("records")}


def find_discrepancies(
    crm: CrmPort,
    planned: Sequence[PlannedAction | OutboxAction],
    done: Mapping[tuple[str, str], OutboxAction],
    now: Callable[[], datetime],
) -> tuple[list[Finding], list[OutboxAction], list[tuple[OutboxAction, ActionConflict]]]:
    """Check the actions the outbox would skip; returns the findings, the done actions to send again and
    the owners a person changed (conflicts for review)."""
    skipped = [
        previous
        for action in planned
        if (previous := done.get((action.lead_id, action.kind))) is not None
        and previous.payload_sha256 == action.payload_sha256
    ]
    holdings = CrmHoldings(crm, ((action.kind, action.external_id) for action in skipped))
    findings: list[Finding] = []
    redo: list[OutboxAction] = []
    conflicts: list[tuple[OutboxAction, ActionConflict]] = []

    def found(action: OutboxAction, finding: str, what: str, detail: str) -> None:
        findings.append(
            Finding(action.lead_id, action.kind, action.external_id, finding, what, detail, now())
        )

    for action in skipped:
        if not holdings.holds(action.kind, action.external_id):
            if action.kind == LINK_CONTACT:
                found(action, CONTACT_MISSING, FLAGGED, f"contact {action.external_id} is not in the CRM")
            else:
                found(action, MISSING, RESENT, f"the CRM holds no {_OBJECT_OF[action.kind]} for it")
                redo.append(action)
        elif action.kind == ASSIGN_OWNER:
            record = holdings.record(action.external_id)
            in_crm, assigned = record.fields.get("owner_id"), action.payload["owner_id"]
            if in_crm != assigned:
                found(action, OWNER_CHANGED, FLAGGED, f"CRM owner {in_crm}, LeadOps assigned {assigned}")
                conflicts.append(
                    (
                        action,
                        ActionConflict(
                            "owner_id",
                            assigned,
                            in_crm,
                            record_id=record.record_id,
                            target_version=record.version,
                            snapshot_version=action.result_version,
                            changed_by=str(
                                record.fields.get("updated_by") or "a CRM user (the CRM does not report who)"
                            ),
                            changed_at=record.updated_at,
                        ),
                    )
                )
    return findings, redo, conflicts


def confirm_results(
    crm: CrmPort, results: list[ActionResult], now: Callable[[], datetime]
) -> tuple[list[ActionResult], list[Finding], str | None]:
    """Read back every write the pass reports as done; one the CRM does not hold becomes `unconfirmed`."""
    claimed = [result for result in results if result.status == "written"]
    try:
        holdings: CrmHoldings | None = CrmHoldings(
            crm, ((result.action.kind, result.action.external_id) for result in claimed)
        )
        unavailable = None
    except CrmUnavailableError as error:
        holdings, unavailable = None, str(error)
    except CrmTransientError:
        # A rate limit or a 5xx on the read-back itself: the CRM acknowledged every write, and the next
        # sync's reconciliation reads them back and resends what it lacks. Failing the pass instead (with
        # the outbox already moved on) failed 17 of 32 delivery passes at 20 % HubSpot faults; treating
        # them as unconfirmed resent whole passes and parked more actions than the faults did.
        return results, [], None
    confirmed: list[ActionResult] = []
    findings: list[Finding] = []
    for result in results:
        action = result.action
        if result.status == "written" and (
            holdings is None or not holdings.holds(action.kind, action.external_id)
        ):
            detail = unavailable or "the CRM does not hold it after the write"
            result = ActionResult(
                action,
                UNCONFIRMED_STATUS,
                result.attempts,
                detail,
                result.object_type,
                result.record_id,
                now(),
            )
            findings.append(
                Finding(
                    action.lead_id,
                    action.kind,
                    action.external_id,
                    UNCONFIRMED,
                    RESEND_NEXT_RUN,
                    detail,
                    now(),
                )
            )
        confirmed.append(result)
    return confirmed, findings, unavailable


CRM_WRITES_COLUMNS = [
    "lead_id",
    "operation",
    "external_id",
    "crm_object_type",
    "crm_record_id",
    "payload_sha256",
    "status",
    "attempts",
    "error",
    "written_at",
]


def _log_rows(results: Iterable[ActionResult], refused: Iterable[RefusedRow]) -> pd.DataFrame:
    rows = [
        {
            "lead_id": result.action.lead_id,
            "operation": result.action.kind,
            "external_id": result.action.external_id,
            "crm_object_type": result.object_type,
            "crm_record_id": result.record_id,
            "payload_sha256": result.action.payload_sha256,
            "status": result.status,
            "attempts": result.attempts,
            "error": result.error or ("resent after an interrupted send" if result.resumed else None),
            "written_at": result.at,
        }
        for result in results
    ] + [
        {
            "lead_id": row.lead_id,
            "operation": PLAN,
            "external_id": row.lead_id,
            "crm_object_type": None,
            "crm_record_id": None,
            "payload_sha256": "",
            "status": "parked",
            "attempts": 0,
            "error": row.error,
            "written_at": row.at,
        }
        for row in refused
    ]
    return pd.DataFrame(rows, columns=CRM_WRITES_COLUMNS)


def _append_log(con, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_crm_writes_frame", frame)
    try:
        con.execute(
            f"insert into ops.crm_writes select {', '.join(CRM_WRITES_COLUMNS)} from _crm_writes_frame"
        )
    finally:
        con.unregister("_crm_writes_frame")


def ensure_tables(con) -> None:
    con.execute(OUTBOX_DDL)
    con.execute(OUTBOX_ACTIONS_DDL)
    con.execute(RECONCILIATION_DDL)


def _state_seqs(con) -> dict[str, int]:
    [(exists,)] = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'ops' and table_name = 'lead_state_log'"
    ).fetchall()
    if not exists:
        return {}
    return dict(con.execute("select lead_id, max(seq) from ops.lead_state_log group by 1").fetchall())


def deliver_due_actions(
    con,
    crm: CrmPort,
    policy: RetryPolicy,
    *,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    clients: Mapping[str, Any] | None = None,
) -> tuple[list[ActionResult], list[Finding], str | None]:
    """Send the due actions, read them back, log every outcome in ops.crm_writes (notifications also in
    ops.notification_log); what the CRM does not hold after the write goes back to pending, due after the
    first backoff. `clients` adds the other targets' clients (Slack, email, calendar) when configured."""
    results = run_due_actions(con, {**(clients or {}), CRM_TARGET: crm}, policy, now=now, rng=rng)
    results, findings, unavailable = confirm_results(crm, results, now)
    for result in results:
        if result.status == UNCONFIRMED_STATUS:
            due = result.at + timedelta(seconds=policy.base_delay_seconds)
            schedule_retry(con, result.action.action_id, result.error or UNCONFIRMED, due, result.at)
    _append_log(con, _log_rows(results, ()))
    log_notifications(con, results)
    return results, findings, unavailable


def replace_findings(con, findings: Sequence[Finding]) -> None:
    """The table answers "what disagrees now": the latest sync's findings replace the previous ones."""
    frame = pd.DataFrame([finding.__dict__ for finding in findings], columns=FINDING_COLUMNS)
    con.execute("delete from ops.crm_reconciliation")
    if not frame.empty:
        con.register("_crm_findings_frame", frame)
        try:
            columns = ", ".join(FINDING_COLUMNS)
            con.execute(f"insert into ops.crm_reconciliation select {columns} from _crm_findings_frame")
        finally:
            con.unregister("_crm_findings_frame")


FINDING_COLUMNS = ["lead_id", "operation", "external_id", "finding", "action", "detail", "checked_at"]


def sync_to_crm(
    con,
    crm: CrmPort,
    rows: Iterable[Mapping[str, Any]],
    policy: RetryPolicy | None = None,
    *,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    clients: Mapping[str, Any] | None = None,
) -> SyncOutcome:
    """The whole outbound step over the warehouse connection `con`: plan every decision row (and, for the
    targets `clients` configures, its notifications after its CRM actions), reconcile the outbox with the
    CRM, enqueue (one transaction), send what is due, confirm, log."""
    policy = policy or RetryPolicy()
    ensure_tables(con)
    rows = apply_reroutes(con, list(rows))
    planned, refused = plan_actions(rows, _state_seqs(con), now)
    planned = planned + plan_for_sync(con, rows, planned, clients or {})
    findings, redo, conflicts = find_discrepancies(crm, planned, _latest_done(con), now)
    con.execute("begin")
    try:
        _repair(con, redo, conflicts, now)
        enqueued = enqueue_actions(con, planned, now())
        _append_log(con, _log_rows((), refused))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    results, unconfirmed, unavailable = deliver_due_actions(
        con, crm, policy, now=now, rng=rng, clients=clients
    )
    findings = findings + unconfirmed
    replace_findings(con, findings)
    return SyncOutcome(results, findings, unavailable, tuple(refused), enqueued)


@dataclass(frozen=True)
class ReconcileOutcome:
    checked: int  # CRM writes compared with the CRM
    findings: list[Finding]
    results: list[ActionResult]  # the repairs sent (and anything else that was due)
    crm_unavailable: str | None = None


def reconcile_with_crm(
    con,
    crm: CrmPort,
    policy: RetryPolicy | None = None,
    *,
    now: Callable[[], datetime] = utc_now,
    rng: random.Random | None = None,
    clients: Mapping[str, Any] | None = None,
) -> ReconcileOutcome:
    """The scheduled reconciliation, between batches: every write the outbox holds as done (the latest of
    each lead and kind, unless a newer one of that kind is still to be sent, which rewrites it anyway) is
    compared with the CRM by the same checks a sync makes before it enqueues: the record exists, its owner
    is the one assigned, the task and the note are there. What the CRM lost is sent again now, through the
    outbox; an owner a person changed is flagged and recorded as a conflict. The findings replace
    ops.crm_reconciliation."""
    policy = policy or RetryPolicy()
    ensure_tables(con)
    done = _latest_done(con)
    waiting = {
        (lead_id, kind): seq
        for lead_id, kind, seq in con.execute(
            f"select lead_id, kind, max(seq) from ops.outbox_actions where status in {OPEN_STATUSES}"
            " group by 1, 2"
        ).fetchall()
    }
    current = [action for key, action in done.items() if waiting.get(key, -1) < action.seq]
    findings, redo, conflicts = find_discrepancies(crm, current, done, now)
    con.execute("begin")
    try:
        _repair(con, redo, conflicts, now)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    results, unconfirmed, unavailable = deliver_due_actions(
        con, crm, policy, now=now, rng=rng, clients=clients
    )
    findings = findings + unconfirmed
    replace_findings(con, findings)
    return ReconcileOutcome(len(current), findings, results, unavailable)
