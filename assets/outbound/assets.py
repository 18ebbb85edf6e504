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
from assets.outbound.notifications import NotificationTargets
from assets.outbound.outbox import CONFLICT, DEAD, due_count, utc_now
from assets.outbound.reconcile import (
    FLAGGED,
    MISSING,
    RECONCILIATION_DDL,
    UNCONFIRMED,
    UNCONFIRMED_STATUS,
    deliver_due_actions,
    ensure_tables,
    sync_to_crm,
)
from assets.outbound.resource import OutboxResource
from assets.outbound.sla import SLA_EVENTS_DDL, enforce_sla, now_utc
from expectations.runner import SUITES_DIR, to_asset_check_result, validate_dataframe

# dbt models' keys carry their schema; the definitions test fails on a key no asset produces.
SYNC_PAYLOAD_KEY = AssetKey(["marts", "sync_crm_leads"])
STATE_LOG_KEY = AssetKey(["ops", "lead_state_log"])
CRM_WRITES_KEY = AssetKey(["ops", "crm_writes"])
OUTBOX_DELIVERY_KEY = AssetKey(["ops", "outbox_delivery"])
# Its own group: process_leads selects the `outbound` group, the retry job only this asset.
OUTBOX_RETRY_GROUP = "outbound_retry"
SLA_EVENTS_KEY = AssetKey(["ops", "sla_events"])
# Its own group too: the SLA job selects only this asset and the reader copy.
SLA_GROUP = "outbound_sla"


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
        "Turns each decision into outbox actions (ops.outbox_actions: upsert by external id, owner,"
        " first-touch task due by the SLA, a note with the reason), enqueued once per lead, kind and decision"
        " version, and sends the due ones in order, logging every send in ops.crm_writes. Before enqueuing it"
        " reconciles the outbox with the CRM (what the CRM lost is sent again, an owner a person changed is a"
        " conflict for review: ops.crm_reconciliation, ops.crm_conflicts); after sending it reads every write"
        " back, and only writes the CRM holds count as written."
    ),
)
def crm_writes(
    context: AssetExecutionContext, warehouse: DuckDBResource, crm: CrmResource, outbox: OutboxResource
) -> MaterializeResult:
    with warehouse.get_connection() as con:
        payload = con.execute("select * from marts.sync_crm_leads order by lead_id").df()
        outcome = sync_to_crm(
            con, crm.client(), payload.to_dict("records"), outbox.policy(), clients=outbox.clients()
        )
    counts = outcome.statuses
    _log_outcome(context, outcome.results, outcome.findings)
    if outcome.crm_unavailable:
        # Recorded first, so the outbox claims nothing the CRM lost; then the run fails loudly.
        raise Failure(
            description=(
                f"the CRM is unavailable, nothing this run wrote is confirmed: {outcome.crm_unavailable}"
            ),
            metadata={"unconfirmed": int(counts.get(UNCONFIRMED_STATUS, 0))},
        )
    found = pd.Series([finding.finding for finding in outcome.findings]).value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "leads_in_payload": len(payload),
            "actions_enqueued": outcome.enqueued.enqueued,
            "actions_unchanged": outcome.enqueued.unchanged,
            "actions_superseded": outcome.enqueued.superseded,
            # Only writes read back from the CRM after the run; the others are `unconfirmed`.
            "written": int(counts.get("written", 0)),
            "retry_scheduled": int(counts.get("retry_scheduled", 0)),
            "parked": int(counts.get("parked", 0)),
            "conflict": int(counts.get(CONFLICT, 0)),
            "unconfirmed": int(counts.get(UNCONFIRMED_STATUS, 0)),
            "resent_missing_in_crm": int(found.get(MISSING, 0)),
            "flagged": sum(1 for finding in outcome.findings if finding.action == FLAGGED),
            **_retry_counts(outcome.results),
        }
    )


def _retry_counts(results) -> dict[str, int]:
    """How hard this pass had to try: its sends that were a retry (an action's second or later attempt,
    or the resend of one a dead process left in flight), and the most attempts one action has taken."""
    return {
        "retries": sum(1 for result in results if result.attempts > 1 or result.resumed),
        "max_attempts": max((result.attempts for result in results), default=0),
    }


def _log_outcome(context: AssetExecutionContext, results, findings) -> None:
    for result in results:
        if result.status in ("parked", CONFLICT, "retry_scheduled"):
            context.log.warning(
                f"{result.status} {result.action.kind} for {result.action.lead_id}: {result.error}"
            )
    for finding in findings:
        if finding.action == FLAGGED:
            context.log.warning(
                f"{finding.finding} for {finding.lead_id} {finding.operation}: {finding.detail}"
            )


@asset(
    key=OUTBOX_DELIVERY_KEY,
    group_name=OUTBOX_RETRY_GROUP,
    kinds={"python", "duckdb"},
    description=(
        "Sends the outbox's due actions (retries after backoff, actions an operator retried, sends a dead"
        " process left in flight) without planning anything: the `retry_due_actions` job, no dbt."
    ),
)
def outbox_delivery(
    context: AssetExecutionContext, warehouse: DuckDBResource, crm: CrmResource, outbox: OutboxResource
) -> MaterializeResult:
    with warehouse.get_connection() as con:
        ensure_tables(con)
        due = due_count(con, utc_now())
        results, findings, unavailable = deliver_due_actions(
            con, crm.client(), outbox.policy(), clients=outbox.clients()
        )
    _log_outcome(context, results, findings)
    if unavailable:
        raise Failure(
            description=f"the CRM is unavailable, nothing this run wrote is confirmed: {unavailable}"
        )
    statuses = pd.Series([result.status for result in results], dtype="object").value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "due": due,
            **{status: int(count) for status, count in statuses.items()},
            **_retry_counts(results),
        }
    )


@asset(
    key=SLA_EVENTS_KEY,
    group_name=SLA_GROUP,
    kinds={"python", "duckdb"},
    description=(
        "Routed leads past their first-touch SLA in business time (policy seeds business_hours and"
        " business_holidays) without a first touch (a first_touch outcome, or the CRM showing the lead"
        " worked: a status only a person sets, or its first-touch task done): the owner is reminded on"
        " Slack, then, where the policy says so, the lead goes to the team's next active owner as a logged"
        " routed -> routed transition, a CRM owner change and a Slack alert, all through the outbox; each"
        " step is logged in ops.sla_events. The `enforce_first_touch_sla` job, launched by the sla_breaches"
        " sensor."
    ),
)
def sla_events(
    context: AssetExecutionContext, warehouse: DuckDBResource, crm: CrmResource, outbox: OutboxResource
) -> MaterializeResult:
    clients = outbox.clients()
    crm_client = crm.client()
    with warehouse.get_connection() as con:
        ensure_tables(con)
        con.execute(SLA_EVENTS_DDL)
        outcome = enforce_sla(con, now_utc(), NotificationTargets.of(clients), crm=crm_client)
        results, findings, unavailable = deliver_due_actions(
            con, crm_client, outbox.policy(), clients=clients
        )
    _log_outcome(context, results, findings)
    for event in outcome.events:
        context.log.info(f"SLA {event['step']} {event['lead_id']} ({event['owner_id']}): {event['detail']}")
    if unavailable:
        raise Failure(
            description=f"the CRM is unavailable, nothing this run wrote is confirmed: {unavailable}"
        )
    steps = pd.Series([event["step"] for event in outcome.events], dtype="object").value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "actions_enqueued": outcome.enqueued.enqueued,
            "sent": sum(1 for result in results if result.status == "written"),
            **{str(step): int(count) for step, count in steps.items()},
        }
    )


@asset_check(
    asset=CRM_WRITES_KEY,
    name="no_parked_crm_writes",
    description=(
        "Dead letters (actions parked after the last allowed attempt, with their last error) and conflicts"
        " (a person changed what an action would overwrite) in ops.outbox_actions; red while any is left."
        " `leadops actions list|retry|cancel` shows and resolves them."
    ),
)
def no_parked_crm_writes(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
    with warehouse.get_connection() as con:
        ensure_tables(con)
        stuck = con.execute(
            "select action_id, status, last_error from ops.outbox_actions"
            f" where status in ('{DEAD}', '{CONFLICT}') order by updated_at"
        ).fetchall()
    statuses = pd.Series([status for _, status, _ in stuck], dtype="object").value_counts().to_dict()
    return AssetCheckResult(
        passed=not stuck,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "dead": int(statuses.get(DEAD, 0)),
            "conflict": int(statuses.get(CONFLICT, 0)),
            "examples": str(stuck[:5]),
        },
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
