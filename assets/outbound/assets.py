"""Outbound stage as Dagster assets: decisions → CRM, through the port, gated by every blocking check."""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from assets.crm.resource import CrmResource
from assets.outbound.crm_sync import OUTBOX_DDL
from assets.outbound.reconcile import (
    FLAGGED,
    MISSING,
    RECONCILIATION_DDL,
    UNCONFIRMED,
    UNCONFIRMED_STATUS,
    sync_to_crm,
)
from expectations.runner import SUITES_DIR, to_asset_check_result, validate_dataframe

# dbt models' keys carry their schema; the definitions test fails on a key no asset produces.
SYNC_PAYLOAD_KEY = AssetKey(["marts", "sync_crm_leads"])
STATE_LOG_KEY = AssetKey(["ops", "lead_state_log"])
CRM_WRITES_KEY = AssetKey(["ops", "crm_writes"])

_FINDING_COLUMNS = ["lead_id", "operation", "external_id", "finding", "action", "detail", "checked_at"]


@asset_check(
    asset=SYNC_PAYLOAD_KEY,
    name="outbound_payload_meets_contract",
    blocking=True,
    description=(
        "Great Expectations suite expectations/suites/sync_crm_leads.json: nothing malformed reaches the CRM."
    ),
)
def outbound_payload_meets_contract(
    context: AssetCheckExecutionContext, warehouse: DuckDBResource
) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        frame = con.execute("select * from marts.sync_crm_leads").df()
    return to_asset_check_result(validate_dataframe(frame, SUITES_DIR / "sync_crm_leads.json"))


@asset(
    key=CRM_WRITES_KEY,
    deps=[SYNC_PAYLOAD_KEY, STATE_LOG_KEY],
    group_name="outbound",
    kinds={"python", "duckdb"},
    description=(
        "Writes each decision to the CRM (upsert by external id, owner, first-touch task due by the SLA,"
        " a note with the reason) and records every call in the ops.crm_writes outbox. Before writing it"
        " reconciles the outbox with the CRM (what the CRM lost is sent again, what a person changed is"
        " flagged: ops.crm_reconciliation); after writing it reads every write back, and only writes the"
        " CRM holds count as written."
    ),
)
def crm_writes(
    context: AssetExecutionContext, warehouse: DuckDBResource, crm: CrmResource
) -> MaterializeResult:
    with warehouse.get_connection() as con:
        con.execute(OUTBOX_DDL)
        con.execute(RECONCILIATION_DDL)
        payload = con.execute("select * from marts.sync_crm_leads order by lead_id").df()
        outbox_rows = (
            con.execute(
                "select * from ops.crm_writes qualify row_number() over"
                " (partition by lead_id, operation order by written_at desc) = 1"
            )
            .df()
            .to_dict("records")
        )
    outcome = sync_to_crm(crm.client(), payload.to_dict("records"), outbox_rows)
    results = outcome.results
    recorded = [result for result in results if result.status != "unchanged"]
    findings = pd.DataFrame([finding.__dict__ for finding in outcome.findings], columns=_FINDING_COLUMNS)
    with warehouse.get_connection() as con:
        con.execute("begin")
        if recorded:
            con.register("_crm_writes_frame", pd.DataFrame([result.__dict__ for result in recorded]))
            con.execute(
                "insert into ops.crm_writes select lead_id, operation, external_id, crm_object_type,"
                " crm_record_id, payload_sha256, status, attempts, error, written_at"
                " from _crm_writes_frame"
            )
            con.unregister("_crm_writes_frame")
        # The table answers "what disagrees now": the latest sync's findings replace the previous ones (the
        # outbox keeps the history of every write, re-sent ones included).
        con.execute("delete from ops.crm_reconciliation")
        if not findings.empty:
            con.register("_crm_findings_frame", findings)
            con.execute(
                f"insert into ops.crm_reconciliation select {', '.join(_FINDING_COLUMNS)}"
                " from _crm_findings_frame"
            )
            con.unregister("_crm_findings_frame")
        con.execute("commit")
    counts = pd.Series([result.status for result in results]).value_counts().to_dict() if results else {}
    for result in results:
        if result.status == "parked":
            context.log.warning(f"parked {result.operation} for {result.lead_id}: {result.error}")
    for finding in outcome.findings:
        if finding.action == FLAGGED:
            context.log.warning(
                f"{finding.finding} for {finding.lead_id} {finding.operation}: {finding.detail}"
            )
    if outcome.crm_unavailable:
        # Recorded first, so the outbox claims nothing the CRM lost; then the run fails loudly.
        raise Failure(
            description=(
                f"the CRM is unavailable, nothing this run wrote is confirmed: {outcome.crm_unavailable}"
            ),
            metadata={"unconfirmed": int(counts.get(UNCONFIRMED_STATUS, 0))},
        )
    found = findings["finding"].value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "leads_in_payload": len(payload),
            "operations": len(results),
            # Only writes read back from the CRM after the run; the others are `unconfirmed`.
            "written": int(counts.get("written", 0)),
            "unchanged": int(counts.get("unchanged", 0)),
            "parked": int(counts.get("parked", 0)),
            "unconfirmed": int(counts.get(UNCONFIRMED_STATUS, 0)),
            "resent_missing_in_crm": int(found.get(MISSING, 0)),
            "flagged": int((findings["action"] == FLAGGED).sum()),
        }
    )


@asset_check(
    asset=CRM_WRITES_KEY,
    name="no_parked_crm_writes",
    description="Parked writes are retried on every run; this stays red while any is still parked.",
)
def no_parked_crm_writes(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        con.execute(OUTBOX_DDL)
        parked = con.execute(
            "select lead_id, operation, error from ops.crm_writes qualify row_number() over"
            " (partition by lead_id, operation order by written_at desc) = 1 and status = 'parked'"
        ).fetchall()
    return AssetCheckResult(
        passed=not parked,
        severity=AssetCheckSeverity.WARN,
        metadata={"parked": len(parked), "examples": str(parked[:5])},
    )


@asset_check(
    asset=CRM_WRITES_KEY,
    name="crm_holds_what_the_outbox_wrote",
    description=(
        "The latest reconciliation of the outbox with the CRM (ops.crm_reconciliation): red while a write"
        " is unconfirmed (the CRM does not hold it), yellow while something a person changed in the CRM is"
        " flagged. Records the CRM lost and LeadOps sent again are reported, not failed."
    ),
)
def crm_holds_what_the_outbox_wrote(
    context: AssetCheckExecutionContext, warehouse: DuckDBResource
) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        con.execute(RECONCILIATION_DDL)
        counts = dict(
            con.execute("select finding, count(*) from ops.crm_reconciliation group by 1").fetchall()
        )
        examples = con.execute(
            "select lead_id, operation, finding, detail from ops.crm_reconciliation"
            " where action <> 'resent' order by finding, lead_id limit 5"
        ).fetchall()
    unresolved = {finding: count for finding, count in counts.items() if finding != MISSING}
    return AssetCheckResult(
        passed=not unresolved,
        severity=AssetCheckSeverity.ERROR if UNCONFIRMED in unresolved else AssetCheckSeverity.WARN,
        metadata={**{finding: int(count) for finding, count in counts.items()}, "examples": str(examples)},
    )
