"""Outcome ingest: landed outcome files → raw.outcome_events, or raw.quarantined_outcomes with a reason.

Every non-blank line ends in one place. Accepted: valid, naming a lead LeadOps decided (by lead_id, or by
the external id LeadOps wrote it to the CRM under). Quarantined with its reason: invalid (`invalid_json`,
`contract_violation`, ...), for a lead nobody decided (`unknown_lead`), or an outcome_id seen before with a
different payload (`conflicting_redelivery`: the first delivery stays authoritative). The same outcome
delivered again (same outcome_id, same payload) changes nothing and is only counted.

Arrival order does not matter: the raw table keeps every outcome with its event time (`occurred_at`) and
the dbt models take the latest by event time, so an old status arriving last never overwrites a newer one.
A file is ingested in one transaction and recorded by its sha256, so a redelivered file changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from assets.feedback.contract import OutcomeContractViolation, _Outcome, parse_outcome_line
from integrations.landing.zone import read_landed_file

OUTCOME_COLUMNS: dict[str, str] = {
    "outcome_id": "VARCHAR NOT NULL PRIMARY KEY",
    "lead_id": "VARCHAR NOT NULL",
    "crm_external_id": "VARCHAR",
    "kind": "VARCHAR NOT NULL",
    "occurred_at": "TIMESTAMP NOT NULL",
    "actor": "VARCHAR NOT NULL",
    "actor_type": "VARCHAR NOT NULL",
    "from_owner_id": "VARCHAR",
    "to_owner_id": "VARCHAR",
    "reason": "VARCHAR",
    "status": "VARCHAR",
    "contact_id": "VARCHAR",
    "account_id": "VARCHAR",
    "opportunity_id": "VARCHAR",
    "stage": "VARCHAR",
    "amount": "DECIMAL(18, 2)",
    "currency": "VARCHAR",
    "meeting_id": "VARCHAR",
    "meeting_at": "TIMESTAMP",
    "channel": "VARCHAR",
    "mark": "VARCHAR",
    "note": "VARCHAR",
    "contract_version": "VARCHAR NOT NULL",
    "payload_sha256": "VARCHAR NOT NULL",
    "payload_json": "VARCHAR NOT NULL",
    "file_name": "VARCHAR NOT NULL",
    "line_number": "INTEGER NOT NULL",
    "batch_id": "VARCHAR NOT NULL",
    "ingested_at": "TIMESTAMP NOT NULL",
}

FEEDBACK_DDL = f"""
create schema if not exists raw;
create table if not exists raw.outcome_events (
    {", ".join(f"{name} {sql_type}" for name, sql_type in OUTCOME_COLUMNS.items())}
);
create table if not exists raw.quarantined_outcomes (
    file_name varchar not null,
    line_number integer not null,
    batch_id varchar not null,
    outcome_id varchar,
    reason varchar not null,
    raw_text varchar not null,
    quarantined_at timestamp not null
);
create table if not exists raw.ingested_outcome_files (
    file_name varchar not null,
    content_sha256 varchar primary key,
    line_count integer not null,
    batch_id varchar not null,
    ingested_at timestamp not null
);
"""
_KIND_FIELDS = (
    "from_owner_id",
    "to_owner_id",
    "reason",
    "status",
    "contact_id",
    "account_id",
    "opportunity_id",
    "stage",
    "amount",
    "currency",
    "meeting_id",
    "channel",
    "mark",
    "note",
)


def ensure_feedback_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(FEEDBACK_DDL)


@dataclass
class OutcomeIngestSummary:
    batch_id: str
    files: int = 0
    already_ingested_files: int = 0
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    unreadable_files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownLeads:
    """The leads an outcome may name: decided lead ids, and the CRM external ids they were written under."""

    lead_ids: frozenset[str]
    by_external_id: dict[str, str]

    def resolve(self, outcome: _Outcome) -> tuple[str | None, str | None]:
        """(lead_id, None) or (None, quarantine reason)."""
        via_crm = self.by_external_id.get(outcome.crm_external_id) if outcome.crm_external_id else None
        if outcome.lead_id is not None:
            if outcome.lead_id not in self.lead_ids:
                return None, f"unknown_lead: lead_id {outcome.lead_id!r} is not a lead LeadOps decided"
            if outcome.crm_external_id is not None and via_crm not in (None, outcome.lead_id):
                return None, (
                    f"lead_mismatch: crm_external_id {outcome.crm_external_id!r} belongs to lead {via_crm!r},"
                    f" not {outcome.lead_id!r}"
                )
            return outcome.lead_id, None
        if via_crm is None:
            return None, (
                f"unknown_lead: crm_external_id {outcome.crm_external_id!r} was never written by LeadOps"
            )
        return via_crm, None


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, table]).fetchone()[0] > 0


def read_known_leads(con: duckdb.DuckDBPyConnection) -> KnownLeads:
    lead_ids: set[str] = set()
    by_external_id: dict[str, str] = {}
    if _table_exists(con, "marts", "lead_decisions"):
        lead_ids = {row[0] for row in con.execute("select lead_id from marts.lead_decisions").fetchall()}
    if _table_exists(con, "ops", "crm_writes"):
        by_external_id = dict(
            con.execute(
                "select distinct external_id, lead_id from ops.crm_writes where operation = 'upsert_lead'"
            ).fetchall()
        )
    return KnownLeads(frozenset(lead_ids), by_external_id)


def payload_sha256(text: str) -> str:
    """Hash of the line's JSON with keys sorted: the same outcome re-serialized is the same payload."""
    canonical = json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def _storable(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _row(outcome: _Outcome, lead_id: str, text: str, sha: str, where: dict[str, Any]) -> dict[str, Any]:
    values = outcome.model_dump()
    meeting_at = values.get("meeting_at")
    return {
        "outcome_id": outcome.outcome_id,
        "lead_id": lead_id,
        "crm_external_id": outcome.crm_external_id,
        "kind": values["kind"],
        "occurred_at": outcome.occurred_at_utc,
        "actor": outcome.actor,
        "actor_type": str(outcome.actor_type),
        **{name: (str(values[name]) if values.get(name) is not None else None) for name in _KIND_FIELDS},
        "meeting_at": meeting_at.astimezone(UTC).replace(tzinfo=None) if meeting_at else None,
        "contract_version": outcome.contract_version,
        "payload_sha256": sha,
        "payload_json": text,
        **where,
    }


def _split_lines(content: bytes) -> list[tuple[int, bytes]]:
    content = content.removeprefix(b"\xef\xbb\xbf")
    return [
        (number, line.removesuffix(b"\r"))
        for number, line in enumerate(content.split(b"\n"), start=1)
        if line.strip()
    ]


def _stored_payloads(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select outcome_id, payload_sha256 from raw.outcome_events").fetchall())


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    con.executemany(
        f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
        [[row[name] for name in names] for row in rows],
    )


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    content: bytes,
    known: KnownLeads,
    summary: OutcomeIngestSummary,
    reasons: Counter[str],
    at: datetime,
) -> None:
    seen = _stored_payloads(con)
    accepted: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    lines = _split_lines(content)
    for number, raw in lines:
        where = {"file_name": path.name, "line_number": number, "batch_id": summary.batch_id}
        text = raw.decode("utf-8", errors="backslashreplace")
        outcome_id: str | None = None
        reason: str | None = None
        try:
            raw.decode("utf-8")
            outcome = parse_outcome_line(text)
            outcome_id = outcome.outcome_id
            sha = payload_sha256(text)
            if outcome_id in seen:
                if seen[outcome_id] == sha:
                    summary.duplicates += 1
                    continue
                reason = (
                    f"conflicting_redelivery: outcome_id {outcome_id!r} was delivered before with another"
                    " payload; the first delivery stays authoritative"
                )
            else:
                lead_id, reason = known.resolve(outcome)
                if lead_id is not None:
                    accepted.append(_row(outcome, lead_id, text, sha, where | {"ingested_at": at}))
                    seen[outcome_id] = sha
                    continue
        except UnicodeDecodeError as exc:
            reason = f"invalid_utf8: {exc}"
        except OutcomeContractViolation as violation:
            reason, outcome_id = violation.reason, violation.outcome_id
        except Exception as exc:
            reason = f"internal_error: {type(exc).__name__}: {exc}"
        quarantined.append(
            where
            | {
                "outcome_id": outcome_id,
                "reason": _storable(reason or "internal_error: no reason recorded"),
                "raw_text": _storable(text),
                "quarantined_at": at,
            }
        )
        reasons[(reason or "internal_error").split(":", 1)[0]] += 1
    sha256 = hashlib.sha256(content).hexdigest()
    con.execute("begin transaction")
    try:
        _insert(con, "raw.outcome_events", accepted)
        _insert(con, "raw.quarantined_outcomes", quarantined)
        _insert(
            con,
            "raw.ingested_outcome_files",
            [
                {
                    "file_name": path.name,
                    "content_sha256": sha256,
                    "line_count": len(lines),
                    "batch_id": summary.batch_id,
                    "ingested_at": at,
                }
            ],
        )
        con.execute("commit")
    except BaseException as exc:
        con.execute("rollback")
        exc.add_note(f"while ingesting {path} (rolled back; the file stays in the feedback folder)")
        raise
    summary.lines += len(lines)
    summary.accepted += len(accepted)
    summary.quarantined += len(quarantined)


def _archive(path: Path, archive_dir: Path, batch_id: str) -> None:
    target_dir = archive_dir / batch_id
    target_dir.mkdir(parents=True, exist_ok=True)
    target, copy = target_dir / path.name, 1
    while target.exists():
        target, copy = target_dir / f"{path.stem}.{copy}{path.suffix}", copy + 1
    shutil.move(path, target)


def ingest_outcome_files(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    *,
    batch_id: str,
    archive_dir: Path,
    now: datetime | None = None,
) -> OutcomeIngestSummary:
    """Ingest landed outcome files in order, each in its own transaction, then archive each one."""
    at = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    ensure_feedback_tables(con)
    known = read_known_leads(con)
    summary = OutcomeIngestSummary(batch_id=batch_id)
    reasons: Counter[str] = Counter()
    for path in paths:
        summary.files += 1
        try:
            content = read_landed_file(path).content
        except OSError as exc:
            summary.unreadable_files[path.name] = f"{type(exc).__name__}: {exc.strerror or exc}"
            continue
        already = con.execute(
            "select count(*) from raw.ingested_outcome_files where content_sha256 = ?",
            [hashlib.sha256(content).hexdigest()],
        ).fetchone()[0]
        if already:
            summary.already_ingested_files += 1
        else:
            _ingest_one(con, path, content, known, summary, reasons, at)
        _archive(path, archive_dir, batch_id)
    summary.quarantine_reasons = dict(sorted(reasons.items()))
    return summary
