"""The embedded CRM: the port on a SQLite file that behaves like a remote CRM.

It has its own ids (`LEAD-000001`), a version and `updated_at` per record, one UNIQUE key per
(object type, external id), and every call is one transaction. It lives in its own file (`crm.sqlite`),
separate from the DuckDB warehouse, and nothing but this adapter opens it.

Concurrency: the CLI import and a pipeline run may write at the same time. WAL lets readers proceed while a
writer holds the lock; writers wait up to `busy_timeout_seconds` for each other and then get
`CrmTransientError`, which the caller retries.

Lost state is loud, never silent: only `create=True` (the CLI's `crm import` and the demo, which initialise a
CRM) makes a new file. A pipeline run opens an existing CRM or fails, and a file removed or replaced while a
client holds it fails every later call with `CrmUnavailableError`, instead of writing on into a deleted
inode and reporting success.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from integrations.crm.models import ObjectType
from integrations.crm.port import (
    SYSTEM_ACTOR,
    CrmChange,
    CrmError,
    CrmPermanentError,
    CrmTransientError,
    CrmUnavailableError,
    lead_field_changes,
)
from integrations.crm.store import RecordStoreCrm, StoredRecord

# 2: record_changes, the change feed of lead owners and statuses (read_changes).
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id   TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    external_id TEXT,
    fields_json TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (object_type, external_id)
);
CREATE INDEX IF NOT EXISTS records_by_type ON records (object_type, record_id);
CREATE TABLE IF NOT EXISTS id_sequences (
    prefix     TEXT PRIMARY KEY,
    last_value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS record_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL,
    external_id TEXT,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    changed_by  TEXT NOT NULL,
    changed_at  TEXT NOT NULL
);
"""

_COLUMNS = "object_type, record_id, external_id, fields_json, version, created_at, updated_at"

# SQLite primary result codes (the low byte of the extended code) that mean "another connection holds the
# lock": retrying later succeeds.
_RETRYABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _translate(error: sqlite3.Error) -> CrmError:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _RETRYABLE_CODES:
        return CrmTransientError(f"embedded CRM is busy, retry later: {error}")
    return CrmPermanentError(f"embedded CRM rejected the call: {error}")


def _row_to_record(row: tuple[str, str, str | None, str, int, str, str]) -> StoredRecord:
    object_type, record_id, external_id, fields_json, version, created_at, updated_at = row
    return StoredRecord(
        object_type=ObjectType(object_type),
        record_id=record_id,
        external_id=external_id,
        fields=json.loads(fields_json),
        version=version,
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
    )


class _SqliteTransaction:
    def __init__(self, connection: sqlite3.Connection, actor: str = SYSTEM_ACTOR) -> None:
        self._connection = connection
        self._actor = actor

    def _one(self, where: str, parameters: tuple[str, ...]) -> StoredRecord | None:
        row = self._connection.execute(f"SELECT {_COLUMNS} FROM records WHERE {where}", parameters).fetchone()
        return None if row is None else _row_to_record(row)

    def by_id(self, record_id: str) -> StoredRecord | None:
        return self._one("record_id = ?", (record_id,))

    def by_external_id(self, object_type: ObjectType, external_id: str) -> StoredRecord | None:
        return self._one("object_type = ? AND external_id = ?", (str(object_type), external_id))

    def all(self, object_type: ObjectType, updated_since: datetime | None = None) -> list[StoredRecord]:
        where, parameters = "object_type = ?", [str(object_type)]
        if updated_since is not None:
            # updated_at is written as UTC `isoformat()`, so the text orders as the time does.
            where += " AND updated_at >= ?"
            parameters.append(updated_since.astimezone(UTC).isoformat())
        rows = self._connection.execute(
            f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY record_id", parameters
        ).fetchall()
        return [_row_to_record(row) for row in rows]

    def count(self, object_type: ObjectType) -> int:
        row = self._connection.execute(
            "SELECT count(*) FROM records WHERE object_type = ?", (str(object_type),)
        ).fetchone()
        return int(row[0])

    def insert(self, record: StoredRecord) -> None:
        self._connection.execute(
            f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(record.object_type),
                record.record_id,
                record.external_id,
                json.dumps(record.fields, sort_keys=True),
                record.version,
                record.created_at.isoformat(),
                record.updated_at.isoformat(),
            ),
        )

    def update(self, record: StoredRecord) -> None:
        if record.object_type is ObjectType.LEAD:
            self._log_changes(record)
        self._connection.execute(
            "UPDATE records SET fields_json = ?, version = ?, updated_at = ? WHERE record_id = ?",
            (
                json.dumps(record.fields, sort_keys=True),
                record.version,
                record.updated_at.isoformat(),
                record.record_id,
            ),
        )

    def _log_changes(self, record: StoredRecord) -> None:
        previous = self.by_id(record.record_id)
        for field, old, new in lead_field_changes(previous.fields if previous else {}, record.fields):
            self._connection.execute(
                "INSERT INTO record_changes (record_id, external_id, field, old_value, new_value, changed_by,"
                " changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.record_id,
                    record.external_id,
                    field,
                    old,
                    new,
                    self._actor,
                    record.updated_at.isoformat(),
                ),
            )

    def changes_after(self, seq: int, limit: int) -> list[tuple]:
        return self._connection.execute(
            "SELECT seq, record_id, external_id, field, old_value, new_value, changed_by, changed_at"
            " FROM record_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()

    def next_sequence_value(self, prefix: str) -> int:
        row = self._connection.execute(
            "INSERT INTO id_sequences (prefix, last_value) VALUES (?, 1) "
            "ON CONFLICT (prefix) DO UPDATE SET last_value = last_value + 1 RETURNING last_value",
            (prefix,),
        ).fetchone()
        return int(row[0])


class EmbeddedCrm(RecordStoreCrm):
    """`CrmPort` on a SQLite file.

    `create=True` initialises a missing file and its schema; `create=False` (pipeline runs) refuses a missing
    file or one without a CRM schema, so an emptied CRM is never mistaken for a new one.
    """

    def __init__(
        self,
        database_path: str | Path,
        *,
        busy_timeout_seconds: float = 5.0,
        create: bool = True,
        actor: str = SYSTEM_ACTOR,
    ) -> None:
        self.database_path = Path(database_path)
        # Who this client's writes are recorded as in the change feed: LeadOps, or a person's name.
        self.actor = actor
        self._busy_timeout_seconds = busy_timeout_seconds
        self._local = threading.local()
        if create:
            self.database_path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.database_path.is_file():
            raise CrmUnavailableError(
                f"no CRM at {self.database_path}: a run never creates one. Restore it from a backup, or"
                " initialise a new CRM with `leadops crm import`."
            )
        self._initialize(create=create)
        self._file_identity = self._current_file_identity()

    def _connect(self, *, create: bool = False) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so the module never opens a transaction behind
        # our back. `timeout` is SQLite's busy_timeout: how long to wait for another writer's lock.
        # mode=rw: a connection never creates the file; only initialising with create=True does.
        mode = "rwc" if create else "rw"
        try:
            return sqlite3.connect(
                f"file:{quote(str(self.database_path.absolute()))}?mode={mode}",
                uri=True,
                timeout=self._busy_timeout_seconds,
                isolation_level=None,
            )
        except sqlite3.Error as error:
            if not self.database_path.exists():
                raise CrmUnavailableError(f"the CRM file {self.database_path} is gone") from error
            raise _translate(error) from error

    def _current_file_identity(self) -> tuple[int, int]:
        try:
            status = os.stat(self.database_path)
        except FileNotFoundError as error:
            raise CrmUnavailableError(
                f"the CRM file {self.database_path} was removed while LeadOps was using it"
            ) from error
        return status.st_dev, status.st_ino

    def _check_same_file(self) -> None:
        """A kept-open connection writes on into a deleted or replaced file without any error; refuse."""
        if self._current_file_identity() != self._file_identity:
            raise CrmUnavailableError(
                f"the CRM file {self.database_path} was replaced while LeadOps was using it"
                " (restored from a backup?); the next run reconciles against it"
            )

    def _schema_version(self, connection: sqlite3.Connection) -> int:
        found = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise CrmPermanentError(
                f"{self.database_path} has CRM schema version {found}; this LeadOps knows {SCHEMA_VERSION}. "
                "Upgrade LeadOps."
            )
        return found

    def _initialize(self, *, create: bool) -> None:
        connection = self._connect(create=create)
        try:
            # Checked before anything writes to the file: switching to WAL would give an empty file a header.
            if not create and self._schema_version(connection) == 0:
                raise CrmUnavailableError(
                    f"{self.database_path} holds no CRM (empty or foreign file): a run never initialises"
                    " one. Restore it from a backup, or initialise it with `leadops crm import`."
                )
            # WAL is a property of the file: set once, every later connection uses it.
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise CrmTransientError(f"could not switch {self.database_path} to WAL (mode is {mode})")
            # Opening an existing CRM takes no write lock, so a client can be made while the import writes.
            if self._schema_version(connection) == SCHEMA_VERSION:
                return
            connection.execute("BEGIN IMMEDIATE")
            if self._schema_version(connection) < SCHEMA_VERSION:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise _translate(error) from error
        finally:
            with suppress(sqlite3.Error):
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            connection.close()

    def _thread_connection(self) -> sqlite3.Connection:
        """One connection per thread, kept open.

        Closing the last connection to a WAL database checkpoints and deletes the WAL: with a connection
        per call, writing 10,000 leads (40,000 calls) spent most of its time in those checkpoints.
        """
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            try:
                # WAL + NORMAL never corrupts the file; a power cut may lose the last commits, which the
                # outbox then retries (every write is idempotent by external id).
                connection.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as error:
                connection.close()
                raise _translate(error) from error
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[_SqliteTransaction]:
        # One stat per call (~2 µs; 40,000 calls for 10,000 leads add ~0.1 s).
        self._check_same_file()
        connection = self._thread_connection()
        try:
            # A write takes the write lock up front (IMMEDIATE). A deferred transaction that reads and then
            # tries to write cannot wait for the lock in WAL mode: SQLite fails it at once with SQLITE_BUSY.
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield _SqliteTransaction(connection, self.actor)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise _translate(error) from error
        finally:
            with suppress(sqlite3.Error):
                if connection.in_transaction:
                    connection.execute("ROLLBACK")

    def read_changes(self, since: str | None = None, limit: int = 1000) -> list[CrmChange]:
        """Lead owner/status changes after the cursor `since`, oldest first (`CrmChangeFeed`)."""
        with self._transaction(write=False) as tx:
            rows = tx.changes_after(int(since or 0), limit)
        return [
            CrmChange(
                cursor=str(seq),
                record_id=record_id,
                external_id=external_id,
                field=field,
                old_value=old,
                new_value=new,
                changed_by=changed_by,
                changed_at=datetime.fromisoformat(changed_at),
            )
            for seq, record_id, external_id, field, old, new, changed_by, changed_at in rows
        ]
