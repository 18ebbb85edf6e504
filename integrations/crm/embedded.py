"""The embedded CRM: the port on a SQLite file that behaves like a remote CRM.

It has its own ids (`LEAD-000001`), a version and `updated_at` per record, one UNIQUE key per
(object type, external id), and every call is one transaction. It lives in its own file (`crm.sqlite`),
separate from the DuckDB warehouse, and nothing but this adapter opens it.

Concurrency: the CLI import and a pipeline run may write at the same time. WAL lets readers proceed while a
writer holds the lock; writers wait up to `busy_timeout_seconds` for each other and then get
`CrmTransientError`, which the caller retries.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from integrations.crm.models import ObjectType
from integrations.crm.port import CrmError, CrmPermanentError, CrmTransientError
from integrations.crm.store import RecordStoreCrm, StoredRecord

SCHEMA_VERSION = 1

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
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def _one(self, where: str, parameters: tuple[str, ...]) -> StoredRecord | None:
        row = self._connection.execute(f"SELECT {_COLUMNS} FROM records WHERE {where}", parameters).fetchone()
        return None if row is None else _row_to_record(row)

    def by_id(self, record_id: str) -> StoredRecord | None:
        return self._one("record_id = ?", (record_id,))

    def by_external_id(self, object_type: ObjectType, external_id: str) -> StoredRecord | None:
        return self._one("object_type = ? AND external_id = ?", (str(object_type), external_id))

    def all(self, object_type: ObjectType) -> list[StoredRecord]:
        rows = self._connection.execute(
            f"SELECT {_COLUMNS} FROM records WHERE object_type = ? ORDER BY record_id", (str(object_type),)
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
        self._connection.execute(
            "UPDATE records SET fields_json = ?, version = ?, updated_at = ? WHERE record_id = ?",
            (
                json.dumps(record.fields, sort_keys=True),
                record.version,
                record.updated_at.isoformat(),
                record.record_id,
            ),
        )

    def next_sequence_value(self, prefix: str) -> int:
        row = self._connection.execute(
            "INSERT INTO id_sequences (prefix, last_value) VALUES (?, 1) "
            "ON CONFLICT (prefix) DO UPDATE SET last_value = last_value + 1 RETURNING last_value",
            (prefix,),
        ).fetchone()
        return int(row[0])


class EmbeddedCrm(RecordStoreCrm):
    """`CrmPort` on a SQLite file. Creates the file and its schema on first open."""

    def __init__(self, database_path: str | Path, *, busy_timeout_seconds: float = 5.0) -> None:
        self.database_path = Path(database_path)
        self._busy_timeout_seconds = busy_timeout_seconds
        self._local = threading.local()
        self.database_path.parent.mkdir(parents=True, exist_ok=True)
        self._initialize()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so the module never opens a transaction behind
        # our back. `timeout` is SQLite's busy_timeout: how long to wait for another writer's lock.
        try:
            return sqlite3.connect(
                self.database_path, timeout=self._busy_timeout_seconds, isolation_level=None
            )
        except sqlite3.Error as error:
            raise _translate(error) from error

    def _schema_version(self, connection: sqlite3.Connection) -> int:
        found = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise CrmPermanentError(
                f"{self.database_path} has CRM schema version {found}; this LeadOps knows {SCHEMA_VERSION}. "
                "Upgrade LeadOps."
            )
        return found

    def _initialize(self) -> None:
        connection = self._connect()
        try:
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
        connection = self._thread_connection()
        try:
            # A write takes the write lock up front (IMMEDIATE). A deferred transaction that reads and then
            # tries to write cannot wait for the lock in WAL mode: SQLite fails it at once with SQLITE_BUSY.
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield _SqliteTransaction(connection)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise _translate(error) from error
        finally:
            with suppress(sqlite3.Error):
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
