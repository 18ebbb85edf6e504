"""Feedback stage as Dagster assets: landed outcome files → raw.outcome_events; the outcome report."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    Config,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from assets.feedback.crm_changes import describe, poll_crm_outcomes
from assets.feedback.ingest import ensure_feedback_tables, ingest_outcome_files
from assets.feedback.report import key_numbers_markdown, write_report
from assets.feedback.resource import FeedbackZone

FEEDBACK_GROUP = "feedback"
# dbt models' keys carry their schema (`+schema: marts`); a definitions test fails on a key no asset makes.
OUTCOME_MART_KEYS = [
    AssetKey(["marts", name])
    for name in (
        "routing_accuracy",
        "speed_to_lead",
        "speed_to_lead_percentiles",
        "qualified_pipeline",
        "conversion_quality",
        "rep_workload",
        "outcome_calibration",
    )
]


class OutcomeIngestConfig(Config):
    """Which landed outcome files this run ingests; empty means everything waiting."""

    files: list[str] = []  # noqa: RUF012 - pydantic copies field defaults per instance


class ReportsFolder(ConfigurableResource):
    """Where the outcome report is written ($LEADOPS_HOME/reports)."""

    path: str


@asset(
    key="crm_outcome_changes",
    group_name=FEEDBACK_GROUP,
    kinds={"python", "duckdb"},
    required_resource_keys={"crm", "warehouse", "feedback"},
    description=(
        "Owner and status changes a person made in the CRM since the last poll (the adapter's optional"
        " change feed), ingested as outcome events through the outcome contract; a CRM without a change"
        " feed yet is reported and skipped."
    ),
)
def crm_outcome_changes(context: AssetExecutionContext) -> MaterializeResult:
    # Resources by key, not by type: importing the CRM stage's resource would couple the stages, and
    # Dagster takes resources one way or the other, not both.
    client = context.resources.crm.client()
    feedback: FeedbackZone = context.resources.feedback
    with context.resources.warehouse.get_connection() as con:
        result = poll_crm_outcomes(con, client, feedback.directory, batch_id=f"crm-{context.run_id[:8]}")
    context.log.info(describe(result))
    ingest = result.ingest
    return MaterializeResult(
        metadata={
            "change_feed_supported": result.supported,
            "changes_read": result.changes_read,
            "outcomes": result.outcomes_landed,
            "accepted": ingest.accepted if ingest else 0,
            "quarantined": ingest.quarantined if ingest else 0,
            "cursor": result.cursor or "",
        }
    )


@asset(
    key="raw_outcome_events",
    # After the CRM poll, so the outcome marts read both sources' outcomes in the same run.
    deps=[crm_outcome_changes],
    group_name=FEEDBACK_GROUP,
    kinds={"python", "duckdb"},
    description=(
        "Outcome files from $LEADOPS_HOME/feedback (contract docs/outcome-contract.md): valid outcomes of"
        " decided leads into raw.outcome_events, everything else into raw.quarantined_outcomes with its"
        " reason; a repeated outcome_id with the same payload changes nothing."
    ),
)
def raw_outcome_events(
    context: AssetExecutionContext,
    config: OutcomeIngestConfig,
    warehouse: DuckDBResource,
    feedback: FeedbackZone,
) -> MaterializeResult:
    files = feedback.pending_files(config.files or None)
    batch_id = f"{context.run_id[:8]}"
    with warehouse.get_connection() as con:
        summary = ingest_outcome_files(con, files, batch_id=batch_id, archive_dir=feedback.archive_dir)
        total = con.execute("select count(*) from raw.outcome_events").fetchone()[0]
        total_quarantined = con.execute("select count(*) from raw.quarantined_outcomes").fetchone()[0]
    context.log.info(f"outcome batch {batch_id}: {summary}")
    reasons = "\n".join(
        [
            "| reason | lines |",
            "|---|---|",
            *(f"| {r} | {n} |" for r, n in summary.quarantine_reasons.items()),
        ]
    )
    return MaterializeResult(
        metadata={
            "files": summary.files,
            "lines": summary.lines,
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "quarantined": summary.quarantined,
            "already_ingested_files": summary.already_ingested_files,
            "unreadable_files": len(summary.unreadable_files),
            "quarantine_reasons": MetadataValue.md(reasons),
            "total_outcomes": int(total),
            "total_quarantined": int(total_quarantined),
        }
    )


@asset_check(
    asset=raw_outcome_events,
    blocking=True,
    description="Every stored outcome names a lead LeadOps decided, once per outcome_id.",
)
def raw_outcome_events_name_decided_leads(
    context: AssetCheckExecutionContext, warehouse: DuckDBResource
) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        ensure_feedback_tables(con)
        orphans = con.execute(
            "select count(*) from raw.outcome_events o"
            " where not exists (select 1 from marts.lead_decisions d where d.lead_id = o.lead_id)"
            if con.execute(
                "select count(*) from information_schema.tables"
                " where table_schema = 'marts' and table_name = 'lead_decisions'"
            ).fetchone()[0]
            else "select count(*) from raw.outcome_events"
        ).fetchone()[0]
        repeated = con.execute(
            "select count(*) - count(distinct outcome_id) from raw.outcome_events"
        ).fetchone()[0]
    return AssetCheckResult(
        passed=orphans == 0 and repeated == 0,
        metadata={"outcomes_of_unknown_leads": int(orphans), "repeated_outcome_ids": int(repeated)},
    )


@asset(
    key=AssetKey(["reports", "outcome_report"]),
    deps=OUTCOME_MART_KEYS,
    group_name=FEEDBACK_GROUP,
    kinds={"html"},
    description=(
        "HTML report in $LEADOPS_HOME/reports with offline charts (funnel, speed to lead per stage,"
        " routing accuracy by rule over time, workload per rep, calibration) and the key numbers."
    ),
)
def outcome_report(
    context: AssetExecutionContext, warehouse: DuckDBResource, reports: ReportsFolder
) -> MaterializeResult:
    from pathlib import Path

    with warehouse.get_connection() as con:
        path, numbers = write_report(con, Path(reports.path))
    context.log.info(f"outcome report written to {path}")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(path)),
            "key_numbers": MetadataValue.md(key_numbers_markdown(numbers)),
        }
    )
