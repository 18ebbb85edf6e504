"""Writing decisions to the CRM: planned as idempotent operations and sent through the outbox.

Every operation carries a CRM external id (the CRM refuses a second record for it) and a payload hash.
The operations are the CRM's action kinds of the outbox (assets/outbound/outbox.py): enqueued once per lead,
kind and decision version, skipped when their payload is what was already sent, so re-running a batch makes
no CRM call at all, and a changed payload (the same person submitting again with new details) updates the
one existing record instead of creating another. `ops.crm_writes` logs every send and its outcome.

Before an owner or a status is written, the CRM's current value is compared with what LeadOps last wrote
there (the value and the record version its write returned): one a person changed since is a conflict,
recorded and sent to review, never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assets.outbound.outbox import (
    PERMANENT,
    TRANSIENT,
    UNAVAILABLE,
    ActionConflict,
    ActionKind,
    OutboxAction,
    PlannedAction,
    SendContext,
    Sent,
    decision_version,
    register_action_kind,
    utc_now,
)
from integrations.crm.models import CrmRecord, LeadFields, ObjectType
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
class RefusedRow:
    """A decision row the CRM models refuse: nothing to send, logged as parked with the reason."""

    lead_id: str
    error: str
    at: datetime


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


def first_touch_task_id(lead_id: str) -> str:
    """The external id of the first-touch task LeadOps creates for a routed lead (the SLA reads it back)."""
    return f"{lead_id}:first_touch"


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
                first_touch_task_id(lead_id),
                {"subject": row["task_subject"], "due_at": str(due_at), "owner_id": owner_id},
            )
        )
    note = row.get("note_body")
    if note:
        writes.append(PlannedWrite(lead_id, ADD_NOTE, f"{lead_id}:decision", {"body": note}))
    return writes


def plan_actions(
    rows: Iterable[Mapping[str, Any]],
    state_seqs: Mapping[str, int] | None = None,
    now: Callable[[], datetime] = utc_now,
) -> tuple[list[PlannedAction], list[RefusedRow]]:
    """The outbox actions of every row, versioned by the row (the decision as it is acted on); a row the
    CRM models refuse is returned with its reason and the batch goes on."""
    state_seqs = state_seqs or {}
    actions: list[PlannedAction] = []
    refused: list[RefusedRow] = []
    for row in rows:
        lead_id = str(row.get("lead_id"))
        try:
            writes = plan_writes(row)
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            refused.append(RefusedRow(lead_id, f"payload refused: {error}", now()))
            continue
        version = decision_version({key: _clean(value) for key, value in row.items()})
        actions.extend(
            PlannedAction(
                write.lead_id,
                write.operation,
                write.external_id,
                write.payload,
                version,
                state_seqs.get(write.lead_id),
            )
            for write in writes
        )
    return actions, refused


# ---------------------------------------------------------------------------- the CRM's action kinds


def _record_of(context: SendContext, lead_id: str) -> tuple[str, str] | None:
    for kind in (UPSERT, LINK_CONTACT):
        done = context.latest_done(lead_id, kind)
        if done is not None and done.result_record_id:
            return str(done.result_object_type), done.result_record_id
    return None


def _sent(record: CrmRecord) -> Sent:
    return Sent(str(record.object_type), record.record_id, record.version)


def _changed_by(record: CrmRecord) -> str:
    # None of the adapters' records names who made a change (HubSpot, Salesforce and BottleCRM keep it in
    # their own audit logs); the review shows the time and says so rather than guess.
    return str(record.fields.get("updated_by") or "a CRM user (the CRM does not report who)")


def _check_unchanged_by_people(
    current: CrmRecord | None,
    field_name: str,
    wanted: Any,
    last_written: Any,
    snapshot_version: int | None,
) -> None:
    """Raise ActionConflict when the CRM holds a value for `field_name` that LeadOps neither wrote last
    nor is about to write: a person set it after LeadOps' snapshot (its last write) of the record."""
    if current is None:
        return
    in_crm = current.fields.get(field_name)
    if in_crm is None or in_crm in (wanted, last_written):
        return
    raise ActionConflict(
        field_name,
        wanted,
        in_crm,
        record_id=current.record_id,
        target_version=current.version,
        snapshot_version=snapshot_version,
        changed_by=_changed_by(current),
        changed_at=current.updated_at,
    )


def _send_upsert(action: OutboxAction, context: SendContext) -> Sent:
    crm: CrmPort = context.client("crm")
    fields = LeadFields(**action.payload["fields"])
    previous = context.latest_done(action.lead_id, UPSERT)
    if previous is not None and fields.status is not None:
        current = crm.get_record(ObjectType.LEAD, external_id=action.external_id)
        _check_unchanged_by_people(
            current,
            "status",
            fields.status,
            previous.payload["fields"].get("status"),
            previous.result_version,
        )
    return _sent(crm.upsert_lead(action.external_id, fields))


def _send_link(action: OutboxAction, context: SendContext) -> Sent:
    crm: CrmPort = context.client("crm")
    contact = crm.get_record(ObjectType.CONTACT, record_id=action.payload["record_id"])
    if contact is None:
        raise CrmPermanentError(f"contact {action.payload['record_id']} no longer exists in the CRM")
    return _sent(contact)


def _needs_record(action: OutboxAction, context: SendContext) -> tuple[str, str]:
    record = _record_of(context, action.lead_id)
    if record is None:
        raise CrmPermanentError(f"{action.kind} needs the lead's CRM record, which was not written")
    return record


def _send_owner(action: OutboxAction, context: SendContext) -> Sent:
    crm: CrmPort = context.client("crm")
    object_type, record_id = _needs_record(action, context)
    previous = context.latest_done(action.lead_id, ASSIGN_OWNER)
    snapshot = previous or context.latest_done(action.lead_id, UPSERT)
    current = crm.get_record(ObjectType(object_type), record_id=record_id)
    _check_unchanged_by_people(
        current,
        "owner_id",
        action.payload["owner_id"],
        previous.payload["owner_id"] if previous else None,
        snapshot.result_version if snapshot else None,
    )
    return _sent(crm.assign_owner(ObjectType(object_type), record_id, action.payload["owner_id"]))


def _send_task(action: OutboxAction, context: SendContext) -> Sent:
    crm: CrmPort = context.client("crm")
    _, record_id = _needs_record(action, context)
    payload = action.payload
    due_at = datetime.fromisoformat(payload["due_at"])
    return _sent(
        crm.create_task(action.external_id, record_id, payload["subject"], due_at, payload.get("owner_id"))
    )


def _send_note(action: OutboxAction, context: SendContext) -> Sent:
    crm: CrmPort = context.client("crm")
    _, record_id = _needs_record(action, context)
    return _sent(crm.add_note(action.external_id, record_id, action.payload["body"]))


def classify_crm_error(error: BaseException) -> str | None:
    if isinstance(error, CrmUnavailableError):
        return UNAVAILABLE
    if isinstance(error, CrmTransientError):
        return TRANSIENT
    if isinstance(error, CrmError):
        return PERMANENT
    return None


CRM_TARGET = "crm"
CRM_ACTION_KINDS = tuple(
    register_action_kind(ActionKind(name, CRM_TARGET, send, classify_crm_error))
    for name, send in (
        (UPSERT, _send_upsert),
        (LINK_CONTACT, _send_link),
        (ASSIGN_OWNER, _send_owner),
        (CREATE_TASK, _send_task),
        (ADD_NOTE, _send_note),
    )
)
