"""Outbound stage as Dagster assets: decisions → CRM, through the port, gated by every blocking check."""

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from assets.crm.resource import CrmResource
from assets.outbound.crm_sync import OUTBOX_DDL, OutboxState, execute_writes, plan_all_writes
from expectations.runner import SUITES_DIR, to_asset_check_result, validate_dataframe

# dbt models' keys carry their schema; the definitions test fails on a key no asset produces.
SYNC_PAYLOAD_KEY = AssetKey(["marts", "sync_crm_leads"])
STATE_LOG_KEY = AssetKey(["ops", "lead_state_log"])
CRM_WRITES_KEY = AssetKey(["ops", "crm_writes"])


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
        " a note with the reason) and records every call in the ops.crm_writes outbox."
    ),
)
def crm_writes(
    context: AssetExecutionContext, warehouse: DuckDBResource, crm: CrmResource
) -> MaterializeResult:
    with warehouse.get_connection() as con:
        con.execute(OUTBOX_DDL)
        payload = con.execute("select * from marts.sync_crm_leads order by lead_id").df()
        outbox = OutboxState(
            con.execute(
                "select * from ops.crm_writes qualify row_number() over"
                " (partition by lead_id, operation order by written_at desc) = 1"
            )
            .df()
            .to_dict("records")
        )
    writes, refused = plan_all_writes(payload.to_dict("records"))
    results = refused + execute_writes(crm.client(), writes, outbox)
    written = [result for result in results if result.status != "unchanged"]
    with warehouse.get_connection() as con:
        if written:
            frame = pd.DataFrame([result.__dict__ for result in written])
            con.register("_crm_writes_frame", frame)
            try:
                con.execute(
                    "insert into ops.crm_writes select lead_id, operation, external_id, crm_object_type,"
                    " crm_record_id, payload_sha256, status, attempts, error, written_at"
                    " from _crm_writes_frame"
                )
            finally:
                con.unregister("_crm_writes_frame")
    counts = pd.Series([result.status for result in results]).value_counts().to_dict() if results else {}
    parked = [result for result in results if result.status == "parked"]
    for result in parked:
        context.log.warning(f"parked {result.operation} for {result.lead_id}: {result.error}")
    return MaterializeResult(
        metadata={
            "leads_in_payload": len(payload),
            "operations": len(results),
            "written": int(counts.get("written", 0)),
            "unchanged": int(counts.get("unchanged", 0)),
            "parked": int(counts.get("parked", 0)),
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
