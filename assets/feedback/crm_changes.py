"""Outcomes read from the CRM itself: owner and status changes a person made, polled incrementally.

A CRM whose adapter offers the optional change feed (`CrmChangeFeed.read_changes`: the embedded CRM and the
fake today) is asked for the changes after the last cursor. Each change a person made becomes an outcome
line of the v1 contract (docs/outcome-contract.md) — `owner_reassigned` or `status_changed` — landed in the
feedback folder and ingested by the same code as any producer's file, so validation, quarantine and
idempotency (the outcome id is the CRM's change position) are the contract's, not a second path. LeadOps's
own writes (actor `leadops`) are routing, not outcomes, and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import duckdb

from assets.feedback.contract import LeadStatus
from assets.feedback.ingest import OutcomeIngestSummary, ingest_outcome_files
from integrations.crm.port import CrmChange, supports_change_feed
from integrations.landing.zone import write_events_atomically

# CRM lead statuses (integrations/crm/models.LeadStatus) → the outcome contract's. LeadOps's own states
# (routed, escalated) are not a person's verdict on the lead and are left out; a status the contract does
# not know is passed on as it is and quarantined by the ingest with its reason, so it is seen, not lost.
CRM_TO_OUTCOME_STATUS = {
    "awaiting_response": LeadStatus.working.value,
    "meeting_requested": LeadStatus.working.value,
    "meeting_booked": LeadStatus.working.value,
    "disqualified": LeadStatus.unqualified.value,
}
LEADOPS_STATUSES = frozenset({"routed", "escalated"})
CURSOR_DDL = """
create schema if not exists ops;
create table if not exists ops.crm_change_cursor (
    feed varchar primary key, cursor varchar, read_at timestamp
);
"""
# Changes read per poll; the next poll continues from the cursor.
PAGE_SIZE = 1000


def change_to_outcome(change: CrmChange) -> dict | None:
    """One CRM change → one outcome line (a dict), or None when it is not an outcome."""
    if not change.by_person or change.external_id is None:
        return None
    common = {
        "contract_version": "1",
        "outcome_id": f"crm-change-{change.cursor}",
        "crm_external_id": change.external_id,
        "occurred_at": change.changed_at.replace(tzinfo=change.changed_at.tzinfo or UTC).isoformat(),
        "actor": change.changed_by,
        "actor_type": "person",
    }
    if change.field == "owner_id":
        if not change.new_value:
            return None
        return {
            **common,
            "kind": "owner_reassigned",
            "to_owner_id": change.new_value,
            **({"from_owner_id": change.old_value} if change.old_value else {}),
        }
    if not change.new_value or change.new_value in LEADOPS_STATUSES:
        return None
    return {
        **common,
        "kind": "status_changed",
        "status": CRM_TO_OUTCOME_STATUS.get(change.new_value, change.new_value),
    }


def outcomes_from_changes(changes: Iterable[CrmChange]) -> list[dict]:
    return [outcome for outcome in map(change_to_outcome, changes) if outcome is not None]


@dataclass(frozen=True)
class CrmPollResult:
    supported: bool
    changes_read: int = 0
    outcomes_landed: int = 0
    cursor: str | None = None
    ingest: OutcomeIngestSummary | None = None


def poll_crm_outcomes(
    con: duckdb.DuckDBPyConnection,
    client: object,
    feedback_dir: Path,
    *,
    batch_id: str,
    feed: str = "crm",
) -> CrmPollResult:
    """Read the changes after the stored cursor, land the outcomes among them and ingest that file.

    The cursor moves only after the ingest stored the outcomes: a run that fails in between reads the same
    changes again, and the outcome ids make the repeat change nothing.
    """
    if not supports_change_feed(client):
        return CrmPollResult(supported=False)
    con.execute(CURSOR_DDL)
    row = con.execute("select cursor from ops.crm_change_cursor where feed = ?", [feed]).fetchone()
    cursor = row[0] if row else None
    changes = client.read_changes(since=cursor, limit=PAGE_SIZE)
    if not changes:
        return CrmPollResult(supported=True, cursor=cursor)
    outcomes = outcomes_from_changes(changes)
    summary = None
    if outcomes:
        landed = write_events_atomically(
            feedback_dir, outcomes, name=f"crm-changes-{changes[0].cursor}-{changes[-1].cursor}.jsonl"
        )
        summary = ingest_outcome_files(con, [landed], batch_id=batch_id, archive_dir=feedback_dir / "archive")
    last = changes[-1].cursor
    con.execute("insert or replace into ops.crm_change_cursor values (?, ?, current_timestamp)", [feed, last])
    return CrmPollResult(
        supported=True, changes_read=len(changes), outcomes_landed=len(outcomes), cursor=last, ingest=summary
    )


def describe(result: CrmPollResult) -> str:
    if not result.supported:
        return "this CRM adapter has no change feed yet: CRM outcomes come only from landed files"
    return json.dumps(
        {"changes_read": result.changes_read, "outcomes": result.outcomes_landed, "cursor": result.cursor}
    )
