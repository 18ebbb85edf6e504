"""A throw-away DuckDB warehouse with the columns the enrichment stage reads, and small row builders.

Only the columns the enrichment asset reads are created (docs/architecture.md has the full contract).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from assets.enrichment.domain_firmographics import ENRICHMENT_DDL, TABLE, DomainRow, read_rows, upsert_rows

RAW_EVENTS_DDL = """
create schema if not exists raw;
create table if not exists raw.inbound_events (
    event_id varchar not null,
    received_at timestamp not null,
    company varchar,
    email_domain varchar,
    is_free_email boolean,
    is_disposable_email boolean,
    website_domain varchar
);
"""
CRM_DOMAINS_DDL = """
create schema if not exists crm;
create table if not exists crm.account_domains (account_id varchar, domain varchar, is_primary boolean);
"""


def event(
    event_id: str,
    *,
    email_domain: str | None = None,
    website_domain: str | None = None,
    company: str | None = None,
    free: bool = False,
    disposable: bool = False,
    received_at: datetime = datetime(2025, 3, 10, 9, 0),
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "received_at": received_at,
        "company": company,
        "email_domain": email_domain,
        "is_free_email": free,
        "is_disposable_email": disposable,
        "website_domain": website_domain,
    }


def create_warehouse(
    path: Path, events: list[dict[str, Any]], crm_domains: tuple[tuple[str, str], ...] = ()
) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_EVENTS_DDL)
        con.execute(CRM_DOMAINS_DDL)
        columns = list(event("x"))
        insert = (
            f"insert into raw.inbound_events ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
        )
        for row in events:
            con.execute(insert, [row[column] for column in columns])
        for account_id, domain in crm_domains:
            con.execute("insert into crm.account_domains values (?, ?, true)", [account_id, domain])


def rows(path: Path) -> dict[str, DomainRow]:
    with duckdb.connect(str(path)) as con:
        return read_rows(con)


def write_rows(path: Path, new_rows: list[DomainRow]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(ENRICHMENT_DDL)
        upsert_rows(con, new_rows)


def make_due(path: Path, domain: str, at: datetime | None = None) -> None:
    """Move a parked domain's next attempt into the past, as time passing would."""
    moment = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with duckdb.connect(str(path)) as con:
        con.execute(f"update {TABLE} set next_attempt_at = ? where domain = ?", [moment, domain])
