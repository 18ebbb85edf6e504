"""Writing decisions to the CRM: planned as idempotent operations, retried, parked visibly, never twice.

Every operation carries a CRM external id (the CRM refuses a second record for it) and a payload hash.
The outbox `ops.crm_writes` remembers the hash of the last successful write per (lead, operation), so
re-running a batch makes no CRM call at all, and a changed payload (the same person submitting again with
new details) updates the one existing record instead of creating another.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.crm.models import LeadFields, ObjectType
from integrations.crm.port import (
    CrmError,
    CrmPermanentError,
    CrmPort,
    CrmTransientError,
    CrmUnavailableError,
)

OUTBOX_DDL = """
create schema if not exists ops;
create table if not exists ops.crm_writes (
    lead_id varchar not null,
    operation varchar not null,
    external_id varchar not null,
    crm_object_type varchar,
    crm_record_id varchar,
    payload_sha256 varchar not null,
    status varchar not null,
    attempts integer not null,
    error varchar,
    written_at timestamp not null
);
"""

# Operations in the order they run for one lead; later ones need the record the first one wrote.
UPSERT = "upsert_lead"
LINK_CONTACT = "link_contact"
ASSIGN_OWNER = "assign_owner"
CREATE_TASK = "create_task"
ADD_NOTE = "add_note"
# Not a CRM call: the row could not be turned into a valid CRM payload.
PLAN = "plan_payload"


@dataclass(frozen=True)
class PlannedWrite:
    lead_id: str
    operation: str
    external_id: str
    payload: dict[str, Any]

    @property
    def payload_sha256(self) -> str:
        canonical = json.dumps({"op": self.operation, **self.payload}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class WriteResult:
    lead_id: str
    operation: str
    external_id: str
    crm_object_type: str | None
    crm_record_id: str | None
    payload_sha256: str
    status: str  # written | unchanged | parked
    attempts: int
    error: str | None
    written_at: datetime


@dataclass
class RetryPolicy:
    """Transient CRM errors (timeouts, rate limits, a locked store) are retried with backoff, then parked."""

    max_attempts: int = 3
    base_delay_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, attempt: int) -> float:
        return self.base_delay_seconds * (2 ** (attempt - 1))


def _clean(value: Any) -> Any:
    """pandas hands NaN/NaT for SQL NULL; the CRM must see None."""
    if value is None:
        return None
    try:
        if value != value:  # NaN and NaT are the only values unequal to themselves
            return None
    except (TypeError, ValueError):
        return value
    return value


# Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F). A NUL truncates text in C-based
# clients and remote CRM APIs refuse it; the others are invisible in a CRM's UI.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Free text a rep reads as paragraphs: line breaks and tabs stay there, and only there.
_MULTILINE_COLUMNS = frozenset({"note_body", "reason"})


def printable(value: Any, *, multiline: bool = False) -> Any:
    """`value` without control characters; in one-line text a line break or tab becomes a space."""
    if not isinstance(value, str) or not _CONTROL_CHARACTERS.search(value):
        return value

    def replace(match: re.Match[str]) -> str:
        character = match.group()
        if multiline and character in "\n\t":
            return character
        return " " if character.isspace() else ""

    return _CONTROL_CHARACTERS.sub(replace, value.replace("\r\n", "\n"))


def plan_writes(row: Mapping[str, Any]) -> list[PlannedWrite]:
    """The CRM operations one `marts.sync_crm_leads` row asks for.

    A lead matched to an existing CRM contact is linked to that contact: its task and note go there and
    the contact's fields are left alone (the CRM stays the source of truth for people it already knows;
    no duplicate lead record). Anyone else becomes a lead with external id = lead_id.
    """
    # Ids the pipeline generates never hold control characters, so the outbox keys stay the warehouse's.
    row = {key: printable(_clean(value), multiline=key in _MULTILINE_COLUMNS) for key, value in row.items()}
    lead_id = row["lead_id"]
    contact_id = row.get("contact_id")
    if contact_id:
        writes = [
            PlannedWrite(
                lead_id, LINK_CONTACT, contact_id, {"object_type": "contact", "record_id": contact_id}
            )
        ]
    else:
        fields = LeadFields(
            email=row.get("email"),
            first_name=row.get("first_name"),
            last_name=row.get("last_name"),
            company=row.get("company"),
            job_title=row.get("job_title"),
            phone=row.get("phone_e164"),
            country_code=row.get("country_code"),
            status=row.get("lead_status"),
            team=row.get("team"),
            account_id=row.get("account_id"),
            source=row.get("source"),
            description=row.get("reason"),
        ).model_dump(mode="json", exclude_none=True)
        writes = [PlannedWrite(lead_id, UPSERT, lead_id, {"object_type": "lead", "fields": fields})]
    owner_id = row.get("owner_id")
    if owner_id and not contact_id:
        writes.append(PlannedWrite(lead_id, ASSIGN_OWNER, lead_id, {"owner_id": owner_id}))
    if row.get("task_subject"):
        due_at = row.get("task_due_at")
        writes.append(
            PlannedWrite(
                lead_id,
                CREATE_TASK,
                f"{lead_id}:first_touch",
                {"subject": row["task_subject"], "due_at": str(due_at), "owner_id": owner_id},
            )
        )
    note = row.get("note_body")
    if note:
        writes.append(PlannedWrite(lead_id, ADD_NOTE, f"{lead_id}:decision", {"body": note}))
    return writes


class OutboxState:
    """What earlier runs already wrote: last successful payload hash and record per (lead, operation)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]):
        self._written: dict[tuple[str, str], Mapping[str, Any]] = {}
        for row in rows:
            if row["status"] in ("written", "unchanged"):
                self._written[(row["lead_id"], row["operation"])] = row

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        """Invalidate (lead, operation) entries the CRM no longer holds, so their writes run again."""
        for key in keys:
            self._written.pop(key, None)

    def unchanged(self, write: PlannedWrite) -> Mapping[str, Any] | None:
        previous = self._written.get((write.lead_id, write.operation))
        if previous and previous["payload_sha256"] == write.payload_sha256:
            return previous
        return None

    def record_of(self, lead_id: str) -> tuple[str, str] | None:
        previous = self._written.get((lead_id, UPSERT)) or self._written.get((lead_id, LINK_CONTACT))
        if previous and previous.get("crm_record_id"):
            return previous["crm_object_type"], previous["crm_record_id"]
        return None


def _call(crm: CrmPort, write: PlannedWrite, record: tuple[str, str] | None) -> tuple[str, str]:
    payload = write.payload
    if write.operation == UPSERT:
        written = crm.upsert_lead(write.external_id, LeadFields(**payload["fields"]))
        return str(written.object_type), written.record_id
    if write.operation == LINK_CONTACT:
        contact = crm.get_record(ObjectType.CONTACT, record_id=payload["record_id"])
        if contact is None:
            raise CrmPermanentError(f"contact {payload['record_id']} no longer exists in the CRM")
        return str(contact.object_type), contact.record_id
    if record is None:
        raise CrmPermanentError(f"{write.operation} needs the lead's CRM record, which was not written")
    object_type, record_id = record
    if write.operation == ASSIGN_OWNER:
        written = crm.assign_owner(ObjectType(object_type), record_id, payload["owner_id"])
    elif write.operation == CREATE_TASK:
        due_at = datetime.fromisoformat(payload["due_at"])
        written = crm.create_task(
            write.external_id, record_id, payload["subject"], due_at, payload.get("owner_id")
        )
    elif write.operation == ADD_NOTE:
        written = crm.add_note(write.external_id, record_id, payload["body"])
    else:
        raise ValueError(f"unknown CRM operation {write.operation}")
    return str(written.object_type), written.record_id


def plan_all_writes(
    rows: Iterable[Mapping[str, Any]], now: Callable[[], datetime] | None = None
) -> tuple[list[PlannedWrite], list[WriteResult]]:
    """Plan every row; a row the CRM models refuse is parked with its reason and the batch goes on."""
    now = now or utc_now
    writes: list[PlannedWrite] = []
    refused: list[WriteResult] = []
    for row in rows:
        try:
            writes.extend(plan_writes(row))
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            lead_id = str(row.get("lead_id"))
            refused.append(
                WriteResult(
                    lead_id, PLAN, lead_id, None, None, "", "parked", 0, f"payload refused: {error}", now()
                )
            )
    return writes, refused


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def execute_writes(
    crm: CrmPort,
    writes: Iterable[PlannedWrite],
    outbox: OutboxState,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
) -> list[WriteResult]:
    """Run planned writes lead by lead; a parked upsert parks the lead's dependent operations too.

    A CRM that is gone (`CrmUnavailableError`) parks every write not yet made, without calling it.
    """
    retry = retry or RetryPolicy()
    results: list[WriteResult] = []
    record_by_lead: dict[str, tuple[str, str] | None] = {}
    parked_leads: set[str] = set()
    unavailable: CrmUnavailableError | None = None
    for write in writes:
        if write.lead_id not in record_by_lead:
            record_by_lead[write.lead_id] = outbox.record_of(write.lead_id)
        previous = outbox.unchanged(write)
        if previous is not None:
            results.append(
                WriteResult(
                    write.lead_id,
                    write.operation,
                    write.external_id,
                    previous.get("crm_object_type"),
                    previous.get("crm_record_id"),
                    write.payload_sha256,
                    "unchanged",
                    0,
                    None,
                    now(),
                )
            )
            continue
        if unavailable is not None:
            results.append(_parked(write, 0, f"not attempted: CRM unavailable: {unavailable}", now))
            continue
        if write.lead_id in parked_leads:
            results.append(
                _parked(write, 0, "not attempted: an earlier operation for this lead was parked", now)
            )
            continue
        attempt = 0
        while True:
            attempt += 1
            try:
                object_type, record_id = _call(crm, write, record_by_lead[write.lead_id])
            except CrmTransientError as error:
                if attempt < retry.max_attempts:
                    retry.sleep(retry.delay(attempt))
                    continue
                results.append(_parked(write, attempt, f"transient, gave up: {error}", now))
                parked_leads.add(write.lead_id)
            except CrmUnavailableError as error:
                results.append(_parked(write, attempt, f"CRM unavailable: {error}", now))
                unavailable = error
            except CrmError as error:
                results.append(_parked(write, attempt, f"permanent: {error}", now))
                parked_leads.add(write.lead_id)
            else:
                if write.operation in (UPSERT, LINK_CONTACT):
                    record_by_lead[write.lead_id] = (object_type, record_id)
                results.append(
                    WriteResult(
                        write.lead_id,
                        write.operation,
                        write.external_id,
                        object_type,
                        record_id,
                        write.payload_sha256,
                        "written",
                        attempt,
                        None,
                        now(),
                    )
                )
            break
    return results


def _parked(write: PlannedWrite, attempts: int, error: str, now: Callable[[], datetime]) -> WriteResult:
    return WriteResult(
        write.lead_id,
        write.operation,
        write.external_id,
        None,
        None,
        write.payload_sha256,
        "parked",
        attempts,
        error,
        now(),
    )
