"""`FakeCrm`: the port in memory, for unit tests. It records every call and can be told to fail.

    crm = FakeCrm(fail_next={"upsert_lead": 2})      # next 2 upsert_lead calls raise CrmTransientError
    crm.inject_failure("create_task", failure=CrmPermanentError)
    crm.inject_failure("add_note", after_write=True)  # the note is written, the caller still sees a timeout

The rules (idempotency, versions, owner checks) are the same code as the embedded CRM's (`RecordStoreCrm`);
the shared contract tests run against both.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integrations.crm.models import Account, Contact, ObjectType, Opportunity, Owner
from integrations.crm.port import (
    SYSTEM_ACTOR,
    CrmChange,
    CrmError,
    CrmPermanentError,
    CrmPort,
    CrmTransientError,
    lead_field_changes,
)
from integrations.crm.store import RecordStoreCrm, StoredRecord

# Every public method of the port; each is recorded and can be made to fail.
PORT_METHODS: frozenset[str] = frozenset(
    name for name, value in vars(CrmPort).items() if callable(value) and not name.startswith("_")
)


@dataclass(frozen=True)
class FakeCall:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    error: CrmError | None


@dataclass
class _PlannedFailure:
    remaining: int
    failure: type[CrmError]
    after_write: bool


class _MemoryTransaction:
    """Writes straight into the fake's dicts and keeps an undo log, so a failed call changes nothing."""

    def __init__(
        self,
        records: dict[str, StoredRecord],
        by_external_id: dict[tuple[ObjectType, str], str],
        sequences: dict[str, int],
        changes: list[CrmChange] | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> None:
        self._records = records
        self._by_external_id = by_external_id
        self._sequences = sequences
        self._changes = changes if changes is not None else []
        self._actor = actor
        self._undo: list[Callable[[], None]] = []

    def by_id(self, record_id: str) -> StoredRecord | None:
        return self._records.get(record_id)

    def by_external_id(self, object_type: ObjectType, external_id: str) -> StoredRecord | None:
        record_id = self._by_external_id.get((object_type, external_id))
        return None if record_id is None else self._records[record_id]

    def all(self, object_type: ObjectType, updated_since: datetime | None = None) -> list[StoredRecord]:
        return sorted(
            (
                record
                for record in self._records.values()
                if record.object_type is object_type
                and (updated_since is None or record.updated_at >= updated_since)
            ),
            key=lambda record: record.record_id,
        )

    def count(self, object_type: ObjectType) -> int:
        return sum(1 for record in self._records.values() if record.object_type is object_type)

    def insert(self, record: StoredRecord) -> None:
        # The same uniqueness the embedded CRM's PRIMARY KEY and UNIQUE constraints give.
        key = (record.object_type, record.external_id) if record.external_id is not None else None
        if record.record_id in self._records or (key is not None and key in self._by_external_id):
            raise CrmPermanentError(
                f"duplicate {record.object_type} {record.record_id} / {record.external_id}"
            )
        self._records[record.record_id] = record
        self._undo.append(lambda: self._records.pop(record.record_id))
        if key is not None:
            self._by_external_id[key] = record.record_id
            self._undo.append(lambda: self._by_external_id.pop(key))

    def update(self, record: StoredRecord) -> None:
        previous = self._records[record.record_id]
        self._records[record.record_id] = record
        self._undo.append(lambda: self._records.__setitem__(record.record_id, previous))
        if record.object_type is ObjectType.LEAD:
            for field, old, new in lead_field_changes(previous.fields, record.fields):
                self._changes.append(
                    CrmChange(
                        cursor=str(len(self._changes) + 1),
                        record_id=record.record_id,
                        external_id=record.external_id,
                        field=field,
                        old_value=old,
                        new_value=new,
                        changed_by=self._actor,
                        changed_at=record.updated_at,
                    )
                )
                self._undo.append(self._changes.pop)

    def next_sequence_value(self, prefix: str) -> int:
        previous = self._sequences.get(prefix, 0)
        self._sequences[prefix] = previous + 1
        self._undo.append(lambda: self._sequences.__setitem__(prefix, previous))
        return previous + 1

    def roll_back(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


def _instrumented(method: Callable[..., Any]) -> Callable[..., Any]:
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: FakeCrm, *args: Any, **kwargs: Any) -> Any:
        planned = self._take_failure(name)
        error: CrmError | None = None
        try:
            if planned is not None and not planned.after_write:
                raise planned.failure(f"injected failure of {name}")
            result = method(self, *args, **kwargs)
            if planned is not None:
                raise planned.failure(f"injected failure of {name} after the write landed")
            return result
        except CrmError as raised:
            error = raised
            raise
        finally:
            self.calls.append(FakeCall(name, args, dict(kwargs), error))

    return wrapper


class FakeCrm(RecordStoreCrm):
    """In-memory `CrmPort` that records calls (`calls`) and fails on request."""

    def __init__(
        self,
        *,
        fail_next: Mapping[str, int] | None = None,
        failure: type[CrmError] = CrmTransientError,
    ) -> None:
        self._records: dict[str, StoredRecord] = {}
        self._by_external_id: dict[tuple[ObjectType, str], str] = {}
        self._sequences: dict[str, int] = {}
        self._lock = threading.RLock()
        self._changes: list[CrmChange] = []
        # Who writes through this fake, as the change feed records it; a test sets a person's name.
        self.actor = SYSTEM_ACTOR
        self._failures: dict[str, _PlannedFailure] = {}
        self.calls: list[FakeCall] = []
        for method, times in (fail_next or {}).items():
            self.inject_failure(method, times=times, failure=failure)

    def inject_failure(
        self,
        method: str,
        *,
        times: int = 1,
        failure: type[CrmError] = CrmTransientError,
        after_write: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` raise `failure`.

        `after_write=True` lets the call take effect first: the lost-response case of a remote CRM, where the
        write landed but the client timed out. Retrying it must not duplicate anything.
        """
        if method not in PORT_METHODS:
            raise ValueError(f"{method!r} is not a CrmPort method; known: {sorted(PORT_METHODS)}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        self._failures[method] = _PlannedFailure(times, failure, after_write)

    def calls_to(self, method: str) -> list[FakeCall]:
        return [call for call in self.calls if call.method == method]

    def seed(
        self,
        *,
        owners: Iterable[Owner] = (),
        accounts: Iterable[Account] = (),
        contacts: Iterable[Contact] = (),
        opportunities: Iterable[Opportunity] = (),
    ) -> None:
        """Load admin records without recording calls or triggering injected failures.

        Raises the first `CrmPermanentError` (a bad reference in the seed is a bug in the test).
        """
        records = [*owners, *accounts, *contacts, *opportunities]
        for outcome in RecordStoreCrm.import_records(self, records):
            if isinstance(outcome, CrmPermanentError):
                raise outcome

    def delete(self, record_id: str) -> None:
        """Remove a record as a person deleting it in the CRM does, without recording a call."""
        with self._lock:
            record = self._records.pop(record_id)
            if record.external_id is not None:
                del self._by_external_id[(record.object_type, record.external_id)]

    def read_changes(self, since: str | None = None, limit: int = 1000) -> list[CrmChange]:
        """Lead owner/status changes after the cursor `since`, oldest first (`CrmChangeFeed`)."""
        with self._lock:
            start = int(since or 0)
            return list(self._changes[start : start + limit])

    def _take_failure(self, method: str) -> _PlannedFailure | None:
        with self._lock:
            planned = self._failures.get(method)
            if planned is None:
                return None
            planned.remaining -= 1
            if planned.remaining == 0:
                del self._failures[method]
            return planned

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[_MemoryTransaction]:
        # One lock for reads and writes: calls from several threads see each other's changes whole.
        with self._lock:
            transaction = _MemoryTransaction(
                self._records, self._by_external_id, self._sequences, self._changes, self.actor
            )
            try:
                yield transaction
            except BaseException:
                transaction.roll_back()
                raise


for _name in PORT_METHODS:
    setattr(FakeCrm, _name, _instrumented(getattr(RecordStoreCrm, _name)))
