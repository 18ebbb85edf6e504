"""The one interface every CRM adapter implements (embedded SQLite now; HubSpot and Salesforce later).

The pipeline only ever talks to a `CrmPort`, so its retry, outbox and idempotency logic is written once.
Rules every adapter keeps:

- Writes that name an external id are idempotent: the same external id never yields a second record.
  `upsert_*` updates the existing record; `create_task` and `add_note` return the existing one untouched.
- A write that changes nothing does not bump `version` and returns `changed=False`.
- A write to an unknown or inactive owner raises `CrmPermanentError`; so does a write that references a
  record that does not exist.
- `CrmTransientError` means "nothing was written, try again later" (timeout, rate limit, locked database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from integrations.crm.models import (
    Account,
    AdminRecord,
    Contact,
    ContactFields,
    CrmRecord,
    LeadFields,
    ObjectType,
    Opportunity,
    Owner,
)


class CrmError(Exception):
    """Any failure reported by a CRM adapter."""


class CrmTransientError(CrmError):
    """Retryable: timeout, rate limit, locked database. The call had no effect. `retry_after` is the
    CRM's Retry-After in seconds when it sent one: the caller waits at least that long."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CrmPermanentError(CrmError):
    """Not retryable as is: validation failure, unknown or inactive owner, missing record."""


class CrmUnavailableError(CrmPermanentError):
    """The CRM itself is gone (its store missing, emptied or replaced): no write can land until a person
    restores it, so callers stop instead of failing every record one by one."""


@dataclass(frozen=True)
class UpdatedRecord:
    """An admin record as an incremental read returns it. `updated_at` is the CRM's own (timezone-aware),
    None where the CRM does not report one for the record: the caller then cannot advance its mark on it."""

    record: Owner | Account | Contact | Opportunity
    updated_at: datetime | None


# The admin types `read_updated` serves.
UPDATABLE_TYPES = (ObjectType.OWNER, ObjectType.ACCOUNT, ObjectType.CONTACT, ObjectType.OPPORTUNITY)


def updated_since(updated_at: datetime | None, since: datetime | None) -> bool:
    """The filter of `read_updated` for adapters that filter on the client: a record whose CRM reports no
    updated-at always counts as updated, so nothing is missed."""
    return since is None or updated_at is None or updated_at >= since


@runtime_checkable
class CrmPort(Protocol):
    # Reads for the snapshot the pipeline takes each run.
    def read_owners(self) -> list[Owner]: ...

    def read_accounts(self) -> list[Account]: ...

    def read_contacts(self) -> list[Contact]: ...

    def read_open_opportunities(self) -> list[Opportunity]: ...

    # Incremental reads for the pull that keeps the snapshot current (assets/crm/pull.py): records of one
    # admin type (owner, account, contact, opportunity) updated at or after `since`, each with the CRM's
    # updated-at, or all of them when `since` is None. Opportunities: the open ones when `since` is None;
    # every stage after `since`, so a caller keeping a copy sees an opportunity close and drops it.
    def read_updated(self, object_type: ObjectType, since: datetime | None = None) -> list[UpdatedRecord]: ...

    # Writes the pipeline makes.
    def upsert_lead(self, external_id: str, fields: LeadFields) -> CrmRecord: ...

    def upsert_contact(self, external_id: str, fields: ContactFields) -> CrmRecord: ...

    def assign_owner(self, object_type: ObjectType, record_id: str, owner_id: str) -> CrmRecord: ...

    def create_task(
        self, external_id: str, record_id: str, subject: str, due_at: datetime, owner_id: str | None
    ) -> CrmRecord: ...

    def add_note(self, external_id: str, record_id: str, body: str) -> CrmRecord: ...

    def get_record(
        self, object_type: ObjectType, *, record_id: str | None = None, external_id: str | None = None
    ) -> CrmRecord | None: ...

    def count(self, object_type: ObjectType) -> int: ...

    # Reconciliation: which of these external ids the CRM holds, in one read (batch reads by an id property
    # exist in remote CRMs too). Keyed by external id; an id the CRM does not hold is absent.
    def read_by_external_ids(
        self, object_type: ObjectType, external_ids: Sequence[str]
    ) -> dict[str, CrmRecord]: ...

    # Admin write used by the CSV import, batched like the bulk APIs of remote CRMs: one outcome per record,
    # in order; a record the CRM refuses is a CrmPermanentError in its slot and the others still load.
    # Each record keeps the id it has in the CSV and is replaced whole.
    def import_records(self, records: Sequence[AdminRecord]) -> list[CrmRecord | CrmPermanentError]: ...


# ---------------------------------------------------------------- change feed (optional)

# The actor an adapter records for LeadOps's own writes; any other actor is a person working in the CRM.
SYSTEM_ACTOR = "leadops"
# The lead fields whose changes are outcomes: a person taking the lead from its owner, or moving it on.
CHANGE_FIELDS = ("owner_id", "status")


class CrmChange(BaseModel):
    """One change of a lead's owner or status, as the CRM's change history holds it."""

    model_config = ConfigDict(frozen=True)

    cursor: str = Field(description="opaque position in the feed: pass the last one back as `since`")
    record_id: str
    external_id: str | None
    field: Literal["owner_id", "status"]
    old_value: str | None
    new_value: str | None
    changed_by: str
    changed_at: datetime

    @property
    def by_person(self) -> bool:
        return self.changed_by != SYSTEM_ACTOR


@runtime_checkable
class CrmChangeFeed(Protocol):
    """Optional beside `CrmPort`: incremental reads of lead owner/status changes, who made them and when.

    The embedded CRM and the fake implement it; HubSpot, Salesforce and BottleCRM do not yet (their
    property-history and field-history APIs would). `since=None` reads from the start.
    """

    def read_changes(self, since: str | None = None, limit: int = 1000) -> list[CrmChange]: ...


def supports_change_feed(client: object) -> bool:
    return isinstance(client, CrmChangeFeed)


def lead_field_changes(before: dict, after: dict) -> list[tuple[str, str | None, str | None]]:
    """(field, old, new) for each change-feed field that differs between two versions of a lead."""
    return [
        (name, before.get(name), after.get(name))
        for name in CHANGE_FIELDS
        if before.get(name) != after.get(name)
    ]
