"""Ingest stage as Dagster assets: landed event files → raw tables, gated by the raw-events contract."""

from datetime import UTC, datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from assets.ingest.ingest import ingest_files
from assets.ingest.resources import LandingZone
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


LANDING_ZONE_IS_TIDY = "landing_zone_is_tidy"


@asset(
    key="raw_inbound_events",
    deps=[landing_zone],
    group_name="ingest",
    kinds={"python", "duckdb"},
    description=(
        "Every landed line ends in exactly one place: raw.inbound_events (accepted, raw + normalized values),"
        " raw.quarantined_events (with reason, file, line and raw text), a duplicate delivery or a"
        " conflicting redelivery."
    ),
    check_specs=[
        AssetCheckSpec(
            LANDING_ZONE_IS_TIDY,
            asset="raw_inbound_events",
            blocking=False,
            description=(
                "Warns about what the landing zone holds but will never ingest (unknown files, folders,"
                " symlinks, stale *.jsonl.tmp) and about files held back for a partial last line."
            ),
        )
    ],
)
def raw_inbound_events(
    context: AssetExecutionContext, config: IngestConfig, warehouse: DuckDBResource, landing: LandingZone
):
    scan = landing.scan()
    wanted = set(config.files)
    files = [path for path in scan.files if not wanted or path.name in wanted]
    batch_id = new_batch_id(context.run.run_id)
    with warehouse.get_connection() as con:
        summary = ingest_files(
            con,
            files,
            batch_id=batch_id,
            archive_dir=landing.archive_dir,
            partial_line_timeout_seconds=landing.partial_line_timeout_seconds,
        )
        total_events = con.execute("select count(*) from raw.inbound_events").fetchone()[0]
        total_quarantined = con.execute("select count(*) from raw.quarantined_events").fetchone()[0]
        quarantine_reasons = quarantine_overview(con)
    context.log.info(f"batch {batch_id}: {summary}")
    problems = [
        *(f"| {leftover.name} | {leftover.kind} | {leftover.detail} |" for leftover in scan.leftovers),
        *(f"| {name} | held | {why} |" for name, why in summary.held_files.items()),
        *(f"| {name} | unreadable | {why} |" for name, why in summary.unreadable_files.items()),
    ]
    for problem in problems:
        context.log.warning(f"landing zone: {problem.strip('| ')}")
    landing_table = MetadataValue.md("\n".join(["| file | kind | detail |", "|---|---|---|", *problems]))
    yield MaterializeResult(
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
            "conflicting_redeliveries": summary.conflicting_redeliveries,
            "held_files": len(summary.held_files),
            "unreadable_files": len(summary.unreadable_files),
            "landing_leftovers": len(scan.leftovers),
            "landing_problems": landing_table,
        }
    )
    yield AssetCheckResult(
        check_name=LANDING_ZONE_IS_TIDY,
        passed=not problems,
        severity=AssetCheckSeverity.WARN,
        metadata={"problems": len(problems), "landing_problems": landing_table},
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


def quarantine_overview(con) -> MetadataValue:
    """Quarantined lines by reason, all batches: what producers most often get wrong."""
    counts = con.execute(
        "select split_part(reason, ':', 1) as reason_code, count(*) from raw.quarantined_events"
        " group by 1 order by 2 desc"
    ).fetchall()
    lines = ["| reason code | lines |", "|---|---|", *(f"| {reason} | {count} |" for reason, count in counts)]
    return MetadataValue.md("\n".join(lines))
