"""A throw-away warehouse for real dbt runs: the raw and crm tables of docs/architecture.md, filled with
small readable rows, and a helper that runs dbt in-process against it.

Normalized event columns are written out by `event()` with a deliberately simple rule set (the real ones come
from assets/ingest): the dbt tests pin the SQL, not the Python normalization.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult

from assets.crm.assets import CRM_COLUMNS
from assets.identity.resolve import IdentityPolicy
from assets.identity.warehouse import resolve_pending_events
from assets.ingest.ingest import TABLES as RAW_TABLES
from common.domains import email_key
from dagster_project.source_tables import ensure_python_source_tables

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

# The column contracts come from the code that writes these tables, so the fixture cannot drift from them.
RAW_EVENT_COLUMNS: dict[str, str] = RAW_TABLES["raw.inbound_events"]
CRM_TABLES: dict[str, dict[str, str]] = CRM_COLUMNS

_FREE_MAIL = {"gmail.com", "googlemail.com", "yahoo.com", "outlook.com"}
_T0 = datetime(2025, 3, 3, 9, 0, 0)


def event(
    event_id: str,
    minute: int,
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
    website_domain: str | None = None,
    country_code: str | None = None,
    employees_min: int | None = None,
    phone_e164: str | None = None,
    source: str = "web_form",
    partner_id: str | None = None,
    partner_name: str | None = None,
    spam_signals: Sequence[str] = (),
    batch_id: str = "batch-1",
) -> dict[str, Any]:
    """One accepted event, `minute` minutes after a fixed start, with its normalized columns filled in."""
    domain = email.lower().split("@")[1] if email else None
    return {
        "event_id": event_id,
        "source": source,
        "received_at": _T0 + timedelta(minutes=minute),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "company": company,
        "website": f"https://www.{website_domain}/" if website_domain else None,
        "phone": phone_e164,
        "country": country_code,
        "employees": str(employees_min) if employees_min is not None else None,
        "partner_id": partner_id,
        "partner_name": partner_name,
        "consent_marketing": True,
        "extra_json": "{}",
        "payload_json": "{}",
        "email_normalized": email.lower() if email else None,
        "email_key": email_key(email) if email else None,
        "email_domain": domain,
        "is_free_email": domain in _FREE_MAIL if domain else None,
        "is_disposable_email": "disposable_email" in spam_signals,
        "first_name_normalized": first_name,
        "last_name_normalized": last_name,
        "company_normalized": company.lower() if company else None,
        "website_domain": website_domain,
        "country_code": country_code,
        "phone_e164": phone_e164,
        "employees_reported_min": employees_min,
        "employees_reported_max": employees_min,
        "spam_signals": ";".join(spam_signals),
        "file_name": f"{batch_id}.jsonl",
        "line_number": minute,
        "batch_id": batch_id,
        "ingested_at": _T0 + timedelta(hours=1),
    }


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, str], rows: Iterable[dict]):
    names = list(columns)
    placeholders = ", ".join("?" for _ in names)
    for row in rows:
        unknown = set(row) - set(names)
        if unknown:
            raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
        con.execute(
            f"insert into {table} ({', '.join(names)}) values ({placeholders})",
            [row.get(name) for name in names],
        )


def create_warehouse(path: Path, crm: Mapping[str, Sequence[dict[str, Any]]]) -> None:
    """Create raw.inbound_events (empty) and the crm.* snapshot tables filled with `crm`."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create schema crm")
        columns_sql = ", ".join(f"{name} {kind}" for name, kind in RAW_EVENT_COLUMNS.items())
        con.execute(f"create table raw.inbound_events ({columns_sql})")
        for table, columns in CRM_TABLES.items():
            con.execute(f"create table crm.{table} ({', '.join(f'{n} {k}' for n, k in columns.items())})")
            rows = crm.get(table, ())
            if table == "contacts":
                rows = [{**row, "email_key": email_key(row.get("email"))} for row in rows]
            _insert(con, f"crm.{table}", columns, rows)
        ensure_python_source_tables(con)


def append_events(path: Path, events: Iterable[dict[str, Any]]) -> None:
    """Land events and resolve their identity with the real splink models, as a run does before dbt."""
    with duckdb.connect(str(path)) as con:
        _insert(con, "raw.inbound_events", RAW_EVENT_COLUMNS, events)
        outcome = resolve_pending_events(con, IdentityPolicy(), "test-run", datetime.now())
        if not outcome.written:
            raise AssertionError(f"identity resolution refused the batch: {outcome.problems}")


def add_firmographics(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Enrichment answers per company domain, as the enrichment step writes them (status found unless set)."""
    now = datetime.now()
    with duckdb.connect(str(path)) as con:
        for row in rows:
            con.execute(
                "insert into enrichment.domain_firmographics (domain, status, provider, employees, industry,"
                " confidence, attempts, first_requested_at, last_attempt_at, deadline_at, expires_at)"
                " values (?, ?, 'test', ?, ?, ?, 1, ?, ?, ?, ?)",
                [
                    row["domain"],
                    row.get("status", "found"),
                    row.get("employees"),
                    row.get("industry"),
                    row.get("confidence", 0.9),
                    now,
                    now,
                    now + timedelta(minutes=30),
                    now + timedelta(days=30),
                ],
            )


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an in-process run.

    Otherwise the tests' own connection fails ("Can't open a connection to same database file with a
    different configuration") and the next workspace's run would reuse a stale handle.
    """
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


@dataclass(frozen=True)
class DbtWorkspace:
    """One warehouse file and one routing policy, with their own dbt target and log folders."""

    warehouse: Path
    policy_dir: str
    scratch: Path

    def run(self, *args: str) -> dbtRunnerResult:
        """Run a dbt command in-process; raise with dbt's own messages when anything failed."""
        # dbt reads both from the environment; restore them so other tests see the session's values.
        saved = {name: os.environ.get(name) for name in ("LEADOPS_WAREHOUSE_PATH", "LEADOPS_POLICY_DIR")}
        os.environ["LEADOPS_WAREHOUSE_PATH"] = str(self.warehouse)
        os.environ["LEADOPS_POLICY_DIR"] = self.policy_dir
        try:
            result = dbtRunner().invoke(
                [
                    *args,
                    # No manifest.json / run_results.json: ~1 s per write on 2 cores, and the result
                    # object carries every node's status.
                    "--no-write-json",
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    str(self.scratch / "target"),
                    "--log-path",
                    str(self.scratch / "logs"),
                    "--quiet",
                ]
            )
        finally:
            _release_warehouse()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if not result.success:
            failures = []
            for node_result in getattr(result.result, "results", None) or ():
                if str(node_result.status) not in {"success", "pass"}:
                    failures.append(
                        f"{node_result.node.unique_id}: {node_result.status}: {node_result.message}"
                    )
            raise AssertionError(f"dbt {' '.join(args)} failed: {result.exception}\n" + "\n".join(failures))
        return result
