"""The intent stage's warehouse tables and the reads the asset needs, on a plain DuckDB connection."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict

import duckdb
import pandas as pd

from assets.interpretation.batch import (
    DEFAULT_MIN_CONFIDENCE,
    LeadInterpretationRow,
    ModelCallRow,
    PendingLead,
    pending_lead,
)

INPUT_TABLE = "intermediate.int_classify_lead_intents"
THRESHOLDS_TABLE = "rules.decision_thresholds"
MIN_CONFIDENCE_ROW = "intent_min_confidence"
INTERPRETATIONS_TABLE = "interpretation.lead_interpretations"
MODEL_CALLS_TABLE = "interpretation.model_calls"

# The primary key makes a repeated insert of the same (lead_id, content_sha256) a no-op, so a re-run or
# a run that retries after a crash between interpretation and commit never writes a second row.
DDL = f"""
create schema if not exists interpretation;
create table if not exists {INTERPRETATIONS_TABLE} (
    lead_id varchar not null,
    content_sha256 varchar not null,
    backend varchar not null check (backend in ('local', 'openai')),
    model varchar not null,
    prompt_version varchar not null,
    intent varchar not null,
    intent_confidence double not null,
    product_interest varchar not null,
    urgency varchar not null,
    summary varchar not null check (length(summary) <= 280),
    follow_up_questions varchar not null,
    policy_sensitive boolean not null,
    policy_flag varchar,
    is_valid boolean not null,
    error varchar,
    interpreted_at timestamp not null,
    primary key (lead_id, content_sha256)
);
create table if not exists {MODEL_CALLS_TABLE} (
    run_id varchar not null,
    lead_id varchar not null,
    backend varchar not null check (backend in ('local', 'openai')),
    model varchar not null,
    cached boolean not null,
    attempts integer not null,
    prompt_tokens integer not null,
    completion_tokens integer not null,
    cost_usd double,
    latency_ms double not null,
    outcome varchar not null check (outcome in ('ok', 'invalid', 'error', 'timeout')),
    called_at timestamp not null
);
"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def read_min_confidence(con: duckdb.DuckDBPyConnection, log: logging.Logger) -> float:
    """`intent_min_confidence` from the rules seed; `DEFAULT_MIN_CONFIDENCE` with a warning when the table
    or the row is missing or the value is not a probability."""
    try:
        # fetchall, not fetchone: duckdb 2.0 refuses further work on a connection with unread results.
        found = con.execute(
            f"select value from {THRESHOLDS_TABLE} where threshold = ?", [MIN_CONFIDENCE_ROW]
        ).fetchall()
    except duckdb.CatalogException:
        log.warning(
            f"{THRESHOLDS_TABLE} does not exist; using intent_min_confidence = {DEFAULT_MIN_CONFIDENCE}"
        )
        return DEFAULT_MIN_CONFIDENCE
    row = found[0] if found else None
    if row is None or row[0] is None:
        log.warning(f"{THRESHOLDS_TABLE} has no {MIN_CONFIDENCE_ROW} value; using {DEFAULT_MIN_CONFIDENCE}")
        return DEFAULT_MIN_CONFIDENCE
    value = float(row[0])
    if not 0.0 <= value <= 1.0:
        log.warning(
            f"{THRESHOLDS_TABLE}.{MIN_CONFIDENCE_ROW} = {value} is not within [0, 1];"
            f" using {DEFAULT_MIN_CONFIDENCE}"
        )
        return DEFAULT_MIN_CONFIDENCE
    return value


def read_pending_leads(con: duckdb.DuckDBPyConnection) -> tuple[list[PendingLead], int]:
    """(leads to interpret, leads that need interpretation in total). A lead is pending when its current
    model-visible content has no stored interpretation; the hash is computed in Python (the same function
    the rows are written with), so the anti-join is done here rather than in SQL."""
    frame = con.execute(
        f"select lead_id, source, message, job_title, company from {INPUT_TABLE}"
        " where needs_interpretation order by lead_id"
    ).fetchall()
    leads: dict[tuple[str, str], PendingLead] = {}
    for lead_id, source, message, job_title, company in frame:
        lead = pending_lead(
            {
                "lead_id": lead_id,
                "source": source,
                "message": message,
                "job_title": job_title,
                "company": company,
            }
        )
        leads.setdefault((lead.lead_id, lead.content_sha256), lead)
    if not leads:
        return [], 0
    stored = set(
        con.execute(
            f"select lead_id, content_sha256 from {INTERPRETATIONS_TABLE}"
            " where lead_id in (select unnest(?::varchar[]))",
            [sorted({lead_id for lead_id, _ in leads})],
        ).fetchall()
    )
    return [lead for key, lead in leads.items() if key not in stored], len(leads)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"select count(*) from {table}").fetchall()[0][0])


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[object], ignore: bool) -> int:
    """Insert dataclass rows through one registered frame (row-by-row `executemany` took ~1 s per 1,000
    rows); DuckDB reads pandas NaN/None as NULL."""
    if not rows:
        return 0
    frame = pd.DataFrame([asdict(row) for row in rows])  # type: ignore[call-overload]
    verb = "insert or ignore into" if ignore else "insert into"
    before = _count(con, table)
    con.register("_intent_rows", frame)
    try:
        con.execute(f"{verb} {table} by name select * from _intent_rows")
    finally:
        con.unregister("_intent_rows")
    return _count(con, table) - before


def write_batch(
    con: duckdb.DuckDBPyConnection,
    interpretations: Sequence[LeadInterpretationRow],
    calls: Sequence[ModelCallRow],
) -> int:
    """Append the calls and the interpretations in one transaction; returns the interpretations written
    (an interpretation already stored for the same content is kept, never replaced)."""
    con.execute("begin transaction")
    try:
        written = _insert(con, INTERPRETATIONS_TABLE, interpretations, ignore=True)
        _insert(con, MODEL_CALLS_TABLE, calls, ignore=False)
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return written
