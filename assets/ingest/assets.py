"""Ingest stage as Dagster assets: landed event files → raw tables; the CRM's current state → crm tables."""

from datetime import UTC, datetime

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from assets.ingest.ingest import ingest_files
from assets.ingest.normalize import registrable_domain
from dagster_project.resources.crm import CrmResource
from dagster_project.resources.landing import LandingZone
from expectations.runner import SUITES_DIR, to_asset_check_result, validate_dataframe

landing_zone = AssetSpec(
    key="landing_zone",
    description="JSON Lines files of inbound events dropped by producers into $LEADOPS_HOME/landing.",
    group_name="ingest",
    kinds={"file"},
)


class IngestConfig(Config):
    """Which landed files this run ingests; empty means everything waiting in the landing zone."""

    files: list[str] = []  # noqa: RUF012 - pydantic copies field defaults per instance


def new_batch_id(run_id: str, now: datetime | None = None) -> str:
    """Sortable by time (checks validate the latest batch) and unique per run."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S}-{run_id[:8]}"


@asset(
    key="raw_inbound_events",
    deps=[landing_zone],
    group_name="ingest",
    kinds={"python", "duckdb"},
    description=(
        "Every landed line ends in exactly one place: raw.inbound_events (accepted, raw + normalized values),"
        " raw.quarantined_events (with reason, file, line and raw text) or a duplicate delivery."
    ),
)
def raw_inbound_events(
    context: AssetExecutionContext, config: IngestConfig, warehouse: DuckDBResource, landing: LandingZone
) -> MaterializeResult:
    files = landing.pending_files(config.files)
    batch_id = new_batch_id(context.run_id)
    with warehouse.get_connection() as con:
        summary = ingest_files(con, files, batch_id=batch_id, archive_dir=landing.archive_dir)
        total_events = con.execute("select count(*) from raw.inbound_events").fetchone()[0]
        total_quarantined = con.execute("select count(*) from raw.quarantined_events").fetchone()[0]
        quarantine_reasons = quarantine_overview(con)
    context.log.info(f"batch {batch_id}: {summary}")
    return MaterializeResult(
        metadata={
            "batch_id": batch_id,
            "files": len(files),
            "lines": summary.lines,
            "accepted": summary.accepted,
            "duplicate_deliveries": summary.duplicates,
            "quarantined": summary.quarantined,
            "already_ingested_files": summary.already_ingested_files,
            "total_events": int(total_events),
            "total_quarantined": int(total_quarantined),
            "quarantine_reasons": quarantine_reasons,
        }
    )


@asset_check(
    asset=raw_inbound_events,
    blocking=True,
    description="Great Expectations suite expectations/suites/raw_inbound_events.json on the latest batch.",
)
def raw_inbound_events_meet_contract(
    context: AssetCheckExecutionContext, warehouse: DuckDBResource
) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        frame = con.execute(
            "select * from raw.inbound_events where batch_id = (select max(batch_id) from raw.inbound_events)"
        ).df()
    outcome = validate_dataframe(frame, SUITES_DIR / "raw_inbound_events.json")
    return to_asset_check_result(outcome)


CRM_SNAPSHOT_TABLES = ("owners", "accounts", "account_domains", "contacts", "opportunities")


@multi_asset(
    specs=[
        AssetSpec(
            key=AssetKey(["crm", table]),
            group_name="crm_snapshot",
            kinds={"python", "duckdb"},
            description=f"CRM {table} as read through the CRM port at the start of the run.",
        )
        for table in CRM_SNAPSHOT_TABLES
    ],
)
def crm_snapshot(context: AssetExecutionContext, crm: CrmResource, warehouse: DuckDBResource):
    """Read the CRM through its port so matching and routing see current ownership."""
    client = crm.client()
    owners = pd.DataFrame([owner.model_dump() for owner in client.read_owners()])
    accounts = pd.DataFrame(
        [
            {**account.model_dump(), "alias_domains": ";".join(account.alias_domains)}
            for account in client.read_accounts()
        ]
    )
    contacts = pd.DataFrame([contact.model_dump() for contact in client.read_contacts()])
    opportunities = pd.DataFrame([opp.model_dump() for opp in client.read_open_opportunities()])
    frames = {
        "owners": owners,
        "accounts": accounts,
        "account_domains": account_domains_frame(accounts),
        "contacts": contacts,
        "opportunities": opportunities,
    }
    with warehouse.get_connection() as con:
        con.execute("create schema if not exists crm")
        for table, frame in frames.items():
            _replace_table(con, f"crm.{table}", frame, CRM_COLUMNS[table])
    for table, frame in frames.items():
        yield MaterializeResult(asset_key=AssetKey(["crm", table]), metadata={"rows": len(frame)})


# Column order and types of the snapshot tables: an empty CRM still yields tables dbt can read.
CRM_COLUMNS: dict[str, dict[str, str]] = {
    "owners": {
        "owner_id": "varchar",
        "name": "varchar",
        "email": "varchar",
        "team": "varchar",
        "region": "varchar",
        "active": "boolean",
        "capacity": "integer",
    },
    "accounts": {
        "account_id": "varchar",
        "name": "varchar",
        "domain": "varchar",
        "alias_domains": "varchar",
        "country": "varchar",
        "employees": "integer",
        "industry": "varchar",
        "status": "varchar",
        "owner_id": "varchar",
    },
    "account_domains": {"account_id": "varchar", "domain": "varchar", "is_primary": "boolean"},
    "contacts": {
        "contact_id": "varchar",
        "account_id": "varchar",
        "first_name": "varchar",
        "last_name": "varchar",
        "email": "varchar",
        "title": "varchar",
        "phone": "varchar",
        "owner_id": "varchar",
    },
    "opportunities": {
        "opportunity_id": "varchar",
        "account_id": "varchar",
        "stage": "varchar",
        "owner_id": "varchar",
    },
}


def account_domains_frame(accounts: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, registrable domain): primary first, then the `;`-separated aliases."""
    rows: list[dict[str, object]] = []
    for account in accounts.to_dict("records") if not accounts.empty else []:
        seen: set[str] = set()
        candidates = [(account.get("domain"), True)] + [
            (alias, False) for alias in str(account.get("alias_domains") or "").split(";")
        ]
        for raw_domain, is_primary in candidates:
            domain = registrable_domain(raw_domain) if raw_domain else None
            if domain and domain not in seen:
                seen.add(domain)
                rows.append({"account_id": account["account_id"], "domain": domain, "is_primary": is_primary})
    return pd.DataFrame(rows, columns=list(CRM_COLUMNS["account_domains"]))


def _replace_table(con, table: str, frame: pd.DataFrame, columns: dict[str, str]) -> None:
    frame = frame.reindex(columns=list(columns))
    column_list = ", ".join(f"{name} {sql_type}" for name, sql_type in columns.items())
    select_list = ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in columns.items())
    con.execute(f"create or replace table {table} ({column_list})")
    if not frame.empty:
        con.register("_snapshot_frame", frame)
        try:
            con.execute(f"insert into {table} select {select_list} from _snapshot_frame")
        finally:
            con.unregister("_snapshot_frame")


def quarantine_overview(con) -> MetadataValue:
    """Quarantined lines by reason, all batches: what producers most often get wrong."""
    counts = con.execute(
        "select split_part(reason, ':', 1) as reason_code, count(*) from raw.quarantined_events"
        " group by 1 order by 2 desc"
    ).fetchall()
    lines = ["| reason code | lines |", "|---|---|", *(f"| {reason} | {count} |" for reason, count in counts)]
    return MetadataValue.md("\n".join(lines))
