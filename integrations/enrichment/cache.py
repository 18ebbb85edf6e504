"""A TTL cache of provider answers in a SQLite file, keyed by (provider, domain).

Both answers are cached: "found" (the firmographics) and "not found", each with its own TTL, because a
vendor that does not know a domain today rarely knows it tomorrow but a paid lookup costs the same.
Failures are never cached: a transient error must be asked again, and a permanent one is worth seeing.

The TTL is applied when reading, against the time the entry was stored, so changing a TTL in the
configuration takes effect at once for entries already in the file.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from integrations.enrichment.port import Clock, Firmographics, utc_now

logger = logging.getLogger(__name__)

_SCHEMA = """
create table if not exists enrichment_cache (
    provider text not null,
    domain text not null,
    found integer not null,
    firmographics_json text,
    stored_at real not null,
    primary key (provider, domain)
)
"""


@dataclass(frozen=True)
class CacheEntry:
    """A fresh cached answer: `firmographics` is None for a cached "not found"."""

    firmographics: Firmographics | None
    stored_at: datetime

    @property
    def found(self) -> bool:
        return self.firmographics is not None


class EnrichmentCache:
    def __init__(
        self,
        path: str | Path,
        *,
        positive_ttl: timedelta,
        negative_ttl: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        if positive_ttl <= timedelta(0) or negative_ttl <= timedelta(0):
            raise ValueError("cache TTLs must be positive; leave the cache path unset to turn caching off")
        self.path = Path(path)
        self.positive_ttl = positive_ttl
        self.negative_ttl = negative_ttl
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            # WAL lets a reader (the CLI) look while the run writes, without "database is locked".
            connection.execute("pragma journal_mode=wal")
            connection.execute(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One short connection per operation: the resource may be used from several threads, and
        # sqlite3 connections must not cross threads. 30 s covers another process's write transaction.
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            yield connection

    def get(self, provider: str, domain: str) -> CacheEntry | None:
        """The fresh entry for (provider, domain), or None on a miss (absent, expired or unreadable)."""
        with self._connection() as connection:
            row = connection.execute(
                "select found, firmographics_json, stored_at from enrichment_cache"
                " where provider = ? and domain = ?",
                (provider, domain),
            ).fetchone()
        if row is None:
            return None
        found, payload, stored_epoch = row
        stored_at = datetime.fromtimestamp(stored_epoch, UTC)
        ttl = self.positive_ttl if found else self.negative_ttl
        if self._clock() - stored_at >= ttl:
            return None
        if not found:
            return CacheEntry(firmographics=None, stored_at=stored_at)
        try:
            firmographics = Firmographics.model_validate_json(payload)
        except ValidationError as error:
            # A row written by an older contract: ask the provider again, and the put overwrites it.
            logger.warning("unreadable enrichment cache entry %s/%s ignored: %s", provider, domain, error)
            return None
        return CacheEntry(firmographics=firmographics, stored_at=stored_at)

    def put(self, provider: str, domain: str, firmographics: Firmographics | None) -> None:
        """Remember an answer; None remembers "not found"."""
        with self._connection() as connection:
            connection.execute(
                "insert into enrichment_cache (provider, domain, found, firmographics_json, stored_at)"
                " values (?, ?, ?, ?, ?)"
                " on conflict (provider, domain) do update set found = excluded.found,"
                " firmographics_json = excluded.firmographics_json, stored_at = excluded.stored_at",
                (
                    provider,
                    domain,
                    firmographics is not None,
                    firmographics.model_dump_json() if firmographics is not None else None,
                    self._clock().timestamp(),
                ),
            )

    def purge_expired(self) -> int:
        """Delete expired entries so the file does not grow forever; returns how many went."""
        now = self._clock()
        with self._connection() as connection:
            cursor = connection.execute(
                "delete from enrichment_cache"
                " where (found = 1 and stored_at <= ?) or (found = 0 and stored_at <= ?)",
                ((now - self.positive_ttl).timestamp(), (now - self.negative_ttl).timestamp()),
            )
            return cursor.rowcount
