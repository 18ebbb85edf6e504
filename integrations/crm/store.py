"""The port's rules written once, over a minimal record store.

`EmbeddedCrm` (SQLite) and `FakeCrm` (memory) differ only in how they keep records: both subclass
`RecordStoreCrm` and provide `_transaction()`. Idempotency by external id, version bumps, owner and reference
checks live here, so the fake used by unit tests cannot drift from the adapter that runs in production; the
shared contract tests then pin the storage side of both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from integrations.crm.models import (
    GENERATED_ID_PREFIX,
    OWNABLE_TYPES,
    PARENT_TYPES,
    Account,
    AdminRecord,
    Contact,
    ContactFields,
    CrmRecord,
    LeadFields,
    ObjectType,
    Opportunity,
    Owner,
    account_from_record,
    admin_identity,
    contact_from_record,
    merge_fields,
    opportunity_from_record,
    owner_from_record,
)
from integrations.crm.port import UPDATABLE_TYPES, CrmPermanentError, UpdatedRecord

_Model = TypeVar("_Model")


@dataclass(frozen=True)
class StoredRecord:
    object_type: ObjectType
    record_id: str
    external_id: str | None
    fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    def returned(self, *, created: bool, changed: bool) -> CrmRecord:
        return CrmRecord(
            object_type=self.object_type,
            record_id=self.record_id,
            external_id=self.external_id,
            fields=dict(self.fields),
            version=self.version,
            created_at=self.created_at,
            updated_at=self.updated_at,
            created=created,
            changed=changed,
        )


class RecordTransaction(Protocol):
    """What a store offers inside one transaction. Record ids are unique across all object types."""

    def by_id(self, record_id: str) -> StoredRecord | None: ...

    def by_external_id(self, object_type: ObjectType, external_id: str) -> StoredRecord | None: ...

    def all(self, object_type: ObjectType, updated_since: datetime | None = None) -> list[StoredRecord]:
        """Records of the type, ordered by id; with `updated_since` (UTC), only those updated at or after."""
        ...

    def count(self, object_type: ObjectType) -> int: ...

    def insert(self, record: StoredRecord) -> None: ...

    def update(self, record: StoredRecord) -> None: ...

    def next_sequence_value(self, prefix: str) -> int: ...


def _as_utc(moment: datetime) -> datetime:
    # Naive timestamps are UTC, the warehouse convention (TIMESTAMP columns hold naive UTC).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_ADMIN_CONVERTERS: dict[ObjectType, Callable[[CrmRecord], Any]] = {
    ObjectType.OWNER: owner_from_record,
    ObjectType.ACCOUNT: account_from_record,
    ObjectType.CONTACT: contact_from_record,
    ObjectType.OPPORTUNITY: opportunity_from_record,
}


class RecordStoreCrm(ABC):
    """Implements `CrmPort` given a transactional record store."""

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[RecordTransaction]:
        """One atomic unit: every change inside commits together or not at all."""

    def _now(self) -> datetime:
        return datetime.now(UTC)

    # ---- reads -------------------------------------------------------------------------------------------

    def _read(self, object_type: ObjectType, convert: Callable[[CrmRecord], _Model]) -> list[_Model]:
        with self._transaction(write=False) as tx:
            records = tx.all(object_type)
        return [convert(record.returned(created=False, changed=False)) for record in records]

    def read_owners(self) -> list[Owner]:
        return self._read(ObjectType.OWNER, owner_from_record)

    def read_accounts(self) -> list[Account]:
        return self._read(ObjectType.ACCOUNT, account_from_record)

    def read_contacts(self) -> list[Contact]:
        return self._read(ObjectType.CONTACT, contact_from_record)

    def read_open_opportunities(self) -> list[Opportunity]:
        return [opp for opp in self._read(ObjectType.OPPORTUNITY, opportunity_from_record) if opp.is_open]

    def read_updated(self, object_type: ObjectType, since: datetime | None = None) -> list[UpdatedRecord]:
        object_type = ObjectType(object_type)
        if object_type not in UPDATABLE_TYPES:
            raise ValueError(f"read_updated serves {', '.join(UPDATABLE_TYPES)}, not {object_type}")
        with self._transaction(write=False) as tx:
            records = tx.all(object_type, None if since is None else _as_utc(since))
        convert = _ADMIN_CONVERTERS[object_type]
        updated = [
            UpdatedRecord(convert(record.returned(created=False, changed=False)), _as_utc(record.updated_at))
            for record in records
        ]
        if object_type is ObjectType.OPPORTUNITY and since is None:
            return [item for item in updated if item.record.is_open]
        return updated

    def get_record(
        self, object_type: ObjectType, *, record_id: str | None = None, external_id: str | None = None
    ) -> CrmRecord | None:
        if (record_id is None) == (external_id is None):
            raise ValueError("get_record takes exactly one of record_id and external_id")
        object_type = ObjectType(object_type)
        with self._transaction(write=False) as tx:
            if record_id is not None:
                found = tx.by_id(record_id)
                if found is not None and found.object_type is not object_type:
                    found = None
            else:
                found = tx.by_external_id(object_type, str(external_id))
        return None if found is None else found.returned(created=False, changed=False)

    def count(self, object_type: ObjectType) -> int:
        with self._transaction(write=False) as tx:
            return tx.count(ObjectType(object_type))

    def read_by_external_ids(
        self, object_type: ObjectType, external_ids: Sequence[str]
    ) -> dict[str, CrmRecord]:
        object_type = ObjectType(object_type)
        found: dict[str, CrmRecord] = {}
        with self._transaction(write=False) as tx:
            for external_id in dict.fromkeys(external_ids):
                record = tx.by_external_id(object_type, external_id)
                if record is not None:
                    found[external_id] = record.returned(created=False, changed=False)
        return found

    # ---- pipeline writes ---------------------------------------------------------------------------------

    def upsert_lead(self, external_id: str, fields: LeadFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        with self._transaction(write=True) as tx:
            self._check_owner(tx, changes.get("owner_id"), must_be_active=True)
            self._check_reference(tx, changes.get("account_id"), ObjectType.ACCOUNT)
            self._check_reference(tx, changes.get("contact_id"), ObjectType.CONTACT)
            return self._upsert_by_external_id(tx, ObjectType.LEAD, external_id, changes)

    def upsert_contact(self, external_id: str, fields: ContactFields) -> CrmRecord:
        changes = fields.model_dump(mode="json", exclude_unset=True)
        with self._transaction(write=True) as tx:
            self._check_owner(tx, changes.get("owner_id"), must_be_active=True)
            self._check_reference(tx, changes.get("account_id"), ObjectType.ACCOUNT)
            return self._upsert_by_external_id(tx, ObjectType.CONTACT, external_id, changes)

    def assign_owner(self, object_type: ObjectType, record_id: str, owner_id: str) -> CrmRecord:
        object_type = ObjectType(object_type)
        if object_type not in OWNABLE_TYPES:
            raise CrmPermanentError(f"records of type {object_type} have no owner")
        with self._transaction(write=True) as tx:
            current = tx.by_id(record_id)
            if current is None or current.object_type is not object_type:
                raise CrmPermanentError(f"no {object_type} with id {record_id}")
            self._check_owner(tx, owner_id, must_be_active=True)
            return self._apply(tx, current, merge_fields(current.fields, {"owner_id": owner_id}))

    def create_task(
        self, external_id: str, record_id: str, subject: str, due_at: datetime, owner_id: str | None
    ) -> CrmRecord:
        if not subject.strip():
            raise CrmPermanentError("a task needs a subject")
        with self._transaction(write=True) as tx:
            existing = tx.by_external_id(ObjectType.TASK, external_id)
            if existing is not None:
                return existing.returned(created=False, changed=False)
            parent = self._parent(tx, record_id)
            self._check_owner(tx, owner_id, must_be_active=True)
            fields = {
                "subject": subject.strip(),
                "due_at": _as_utc(due_at).isoformat(),
                "owner_id": owner_id,
                "status": "open",
                "related_object_type": str(parent.object_type),
                "related_record_id": parent.record_id,
            }
            # No owner: the task lands in the CRM's unassigned queue, as HubSpot and Salesforce do.
            return self._insert(tx, ObjectType.TASK, external_id, merge_fields({}, fields))

    def add_note(self, external_id: str, record_id: str, body: str) -> CrmRecord:
        if not body.strip():
            raise CrmPermanentError("a note needs a body")
        with self._transaction(write=True) as tx:
            existing = tx.by_external_id(ObjectType.NOTE, external_id)
            if existing is not None:
                return existing.returned(created=False, changed=False)
            parent = self._parent(tx, record_id)
            fields = {
                "body": body,
                "related_object_type": str(parent.object_type),
                "related_record_id": parent.record_id,
            }
            return self._insert(tx, ObjectType.NOTE, external_id, fields)

    # ---- admin writes (CSV import) -----------------------------------------------------------------------
    # An imported record keeps its CSV id as its CRM id and is replaced whole: a field emptied in the CSV is
    # emptied in the CRM. References must exist; an inactive owner may still own accounts (history).

    def import_records(self, records: Sequence[AdminRecord]) -> list[CrmRecord | CrmPermanentError]:
        outcomes: list[CrmRecord | CrmPermanentError] = []
        with self._transaction(write=True) as tx:
            for record in records:
                # Every check runs before the record's only write, so a refused record leaves nothing behind
                # and the rest of the batch can still commit.
                try:
                    outcomes.append(self._import_one(tx, record))
                except CrmPermanentError as error:
                    outcomes.append(error)
        return outcomes

    def _import_one(self, tx: RecordTransaction, record: AdminRecord) -> CrmRecord:
        object_type, record_id, fields = admin_identity(record)
        self._check_owner(tx, fields.get("owner_id"), must_be_active=False)
        self._check_reference(tx, fields.get("account_id"), ObjectType.ACCOUNT)
        current = tx.by_id(record_id)
        if current is None:
            return self._insert(tx, object_type, None, fields, record_id=record_id)
        if current.object_type is not object_type:
            raise CrmPermanentError(
                f"id {record_id} is already used by a record of type {current.object_type}"
            )
        return self._apply(tx, current, fields)

    # ---- shared steps ------------------------------------------------------------------------------------

    def _check_owner(self, tx: RecordTransaction, owner_id: str | None, *, must_be_active: bool) -> None:
        if owner_id is None:
            return
        owner = tx.by_id(owner_id)
        if owner is None or owner.object_type is not ObjectType.OWNER:
            raise CrmPermanentError(f"unknown owner {owner_id}")
        if must_be_active and not owner.fields.get("active", False):
            raise CrmPermanentError(f"owner {owner_id} is inactive")

    def _check_reference(self, tx: RecordTransaction, record_id: str | None, expected: ObjectType) -> None:
        if record_id is None:
            return
        found = tx.by_id(record_id)
        if found is None or found.object_type is not expected:
            raise CrmPermanentError(f"unknown {expected} {record_id}")

    def _parent(self, tx: RecordTransaction, record_id: str) -> StoredRecord:
        parent = tx.by_id(record_id)
        if parent is None or parent.object_type not in PARENT_TYPES:
            raise CrmPermanentError(f"no lead, contact, account or opportunity with id {record_id}")
        return parent

    def _new_record_id(self, tx: RecordTransaction, object_type: ObjectType) -> str:
        prefix = GENERATED_ID_PREFIX.get(object_type)
        if prefix is None:
            raise CrmPermanentError(
                f"records of type {object_type} are only created by the CSV import, with their own id"
            )
        # An imported record may already hold a generated-looking id; skip past it rather than fail.
        while True:
            candidate = f"{prefix}-{tx.next_sequence_value(prefix):06d}"
            if tx.by_id(candidate) is None:
                return candidate

    def _insert(
        self,
        tx: RecordTransaction,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        record_id: str | None = None,
    ) -> CrmRecord:
        now = self._now()
        record = StoredRecord(
            object_type=object_type,
            record_id=record_id or self._new_record_id(tx, object_type),
            external_id=external_id,
            fields=fields,
            version=1,
            created_at=now,
            updated_at=now,
        )
        tx.insert(record)
        return record.returned(created=True, changed=True)

    def _apply(self, tx: RecordTransaction, current: StoredRecord, fields: dict[str, Any]) -> CrmRecord:
        if fields == current.fields:
            return current.returned(created=False, changed=False)
        updated = replace(current, fields=fields, version=current.version + 1, updated_at=self._now())
        tx.update(updated)
        return updated.returned(created=False, changed=True)

    def _upsert_by_external_id(
        self, tx: RecordTransaction, object_type: ObjectType, external_id: str, changes: dict[str, Any]
    ) -> CrmRecord:
        if not external_id.strip():
            raise CrmPermanentError(f"a {object_type} upsert needs a non-empty external id")
        current = tx.by_external_id(object_type, external_id)
        if current is None:
            return self._insert(tx, object_type, external_id, merge_fields({}, changes))
        return self._apply(tx, current, merge_fields(current.fields, changes))
