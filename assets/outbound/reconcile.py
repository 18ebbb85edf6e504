"""Reconciliation: what the outbox says was written against what the CRM holds.

The outbox skips a write whose payload it already sent, so a CRM that lost records (its file deleted and
initialised again, or restored from an older backup) would never get them back, and every run would go on
reporting them as written. Each sync therefore:

1. checks every write the outbox is about to skip; one the CRM no longer holds is forgotten by the outbox and
   sent again (upserts and creates are keyed by external id, so a redo never duplicates), while what a
   person changed in the CRM (the lead's owner) is flagged and left as the person set it;
2. makes the writes;
3. reads back every write of the run: only what the CRM holds counts as written, anything else is recorded
   as `unconfirmed` in the outbox, which the next run sends again.

The findings of the latest sync are kept in `ops.crm_reconciliation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from assets.outbound.crm_sync import (
    ADD_NOTE,
    ASSIGN_OWNER,
    CREATE_TASK,
    LINK_CONTACT,
    PLAN,
    UPSERT,
    OutboxState,
    PlannedWrite,
    RetryPolicy,
    WriteResult,
    execute_writes,
    plan_all_writes,
    utc_now,
)
from integrations.crm.models import CrmRecord, ObjectType
from integrations.crm.port import CrmPort, CrmUnavailableError

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
    results: list[WriteResult]
    findings: list[Finding]
    # Why the CRM could not be read back, when it could not: every write of the run is then unconfirmed.
    crm_unavailable: str | None = None


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
            elif operation != PLAN:
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
        # An owner assignment lands on the lead record; whose it is now is `owner_of`'s question.
        return external_id in self._found[_OBJECT_OF[operation]]

    def owner_of(self, lead_external_id: str) -> str | None:
        return self._found[ObjectType.LEAD][lead_external_id].fields.get("owner_id")


_OBJECT_OF: Mapping[str, ObjectType] = {
    UPSERT: ObjectType.LEAD,
    ASSIGN_OWNER: ObjectType.LEAD,
    CREATE_TASK: ObjectType.TASK,
    ADD_NOTE: ObjectType.NOTE,
}


def find_discrepancies(
    crm: CrmPort, writes: list[PlannedWrite], outbox: OutboxState, now: Callable[[], datetime]
) -> tuple[list[Finding], set[tuple[str, str]]]:
    """Check the writes the outbox would skip; returns the findings and the (lead, operation) to redo."""
    skipped = [write for write in writes if outbox.unchanged(write) is not None]
    holdings = CrmHoldings(crm, ((write.operation, write.external_id) for write in skipped))
    findings: list[Finding] = []
    redo: set[tuple[str, str]] = set()

    def found(write: PlannedWrite, finding: str, action: str, detail: str) -> None:
        findings.append(
            Finding(write.lead_id, write.operation, write.external_id, finding, action, detail, now())
        )
        if action == RESENT:
            redo.add((write.lead_id, write.operation))

    for write in skipped:
        if not holdings.holds(write.operation, write.external_id):
            if write.operation == LINK_CONTACT:
                found(write, CONTACT_MISSING, FLAGGED, f"contact {write.external_id} is not in the CRM")
            else:
                found(write, MISSING, RESENT, f"the CRM holds no {_OBJECT_OF[write.operation]} for it")
        elif write.operation == ASSIGN_OWNER:
            in_crm, assigned = holdings.owner_of(write.external_id), write.payload["owner_id"]
            if in_crm != assigned:
                found(write, OWNER_CHANGED, FLAGGED, f"CRM owner {in_crm}, LeadOps assigned {assigned}")
    return findings, redo


def confirm_results(
    crm: CrmPort, results: list[WriteResult], now: Callable[[], datetime]
) -> tuple[list[WriteResult], list[Finding], str | None]:
    """Read back every write the run reports as done; one the CRM does not hold becomes `unconfirmed`."""
    claimed = [result for result in results if result.status in _CLAIMED]
    try:
        holdings: CrmHoldings | None = CrmHoldings(
            crm, ((result.operation, result.external_id) for result in claimed)
        )
        unavailable = None
    except CrmUnavailableError as error:
        holdings, unavailable = None, str(error)
    confirmed: list[WriteResult] = []
    findings: list[Finding] = []
    for result in results:
        if result.status in _CLAIMED and (
            holdings is None or not holdings.holds(result.operation, result.external_id)
        ):
            detail = unavailable or "the CRM does not hold it after the write"
            result = replace(result, status=UNCONFIRMED_STATUS, error=detail, written_at=now())
            findings.append(
                Finding(
                    result.lead_id,
                    result.operation,
                    result.external_id,
                    UNCONFIRMED,
                    RESEND_NEXT_RUN,
                    detail,
                    now(),
                )
            )
        confirmed.append(result)
    return confirmed, findings, unavailable


def sync_to_crm(
    crm: CrmPort,
    rows: Iterable[Mapping[str, Any]],
    outbox_rows: Iterable[Mapping[str, Any]],
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
) -> SyncOutcome:
    """Plan, reconcile the outbox with the CRM, write, and confirm; the whole outbound step minus storage."""
    writes, refused = plan_all_writes(rows, now)
    outbox = OutboxState(outbox_rows)
    findings, redo = find_discrepancies(crm, writes, outbox, now)
    outbox.forget(redo)
    results = refused + execute_writes(crm, writes, outbox, retry, now)
    results, unconfirmed, unavailable = confirm_results(crm, results, now)
    return SyncOutcome(results, findings + unconfirmed, unavailable)
