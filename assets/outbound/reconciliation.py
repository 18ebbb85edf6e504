"""The scheduled reconciliation as a Dagster asset: decided state against what the CRM holds, between batches.

Each `process_leads` run reconciles the leads it plans (assets/outbound/reconcile.py); this asset, run by
the `reconcile_crm` job on its own schedule, does the same for every lead LeadOps ever wrote, so a task a
rep deleted or a CRM restored from an older backup is noticed without waiting for that lead to come back.
"""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from assets.outbound.reconcile import FLAGGED, RESEND_NEXT_RUN, RESENT, reconcile_with_crm

CRM_RECONCILIATION_KEY = AssetKey(["ops", "crm_reconciliation"])
# Its own group: the reconcile_crm job selects only this asset and the reader copy.
RECONCILIATION_GROUP = "crm_reconciliation"
CHECK_NAME = "crm_matches_decided_state"


@asset(
    key=CRM_RECONCILIATION_KEY,
    group_name=RECONCILIATION_GROUP,
    kinds={"python", "duckdb"},
    # By key: the CRM resource's class belongs to the CRM stage, which this stage does not import.
    required_resource_keys={"warehouse", "crm", "outbox"},
    check_specs=[
        AssetCheckSpec(
            CHECK_NAME,
            asset=CRM_RECONCILIATION_KEY,
            description=(
                "Red while the CRM disagrees with what LeadOps decided and LeadOps cannot repair it: an owner"
                " a person changed (flagged, a conflict for review), a linked contact gone, a write the CRM"
                " does not hold after it was sent again. Records the CRM lost and LeadOps re-created pass."
            ),
        )
    ],
    description=(
        "Compares every lead's decided CRM state (the outbox's done writes) with the CRM: the record exists,"
        " its owner is the one assigned, the first-touch task and the decision note are there. What the"
        " pipeline owns and the CRM lost is sent again through the outbox (ops.outbox_actions); what a person"
        " changed is flagged and recorded in ops.crm_conflicts. Findings replace ops.crm_reconciliation."
        " The reconcile_crm job, on its schedule (LEADOPS_CRM_RECONCILE_CRON)."
    ),
)
def crm_reconciliation(context: AssetExecutionContext):
    resources = context.resources
    with resources.warehouse.get_connection() as con:
        outcome = reconcile_with_crm(
            con, resources.crm.client(), resources.outbox.policy(), clients=resources.outbox.clients()
        )
    for finding in outcome.findings:
        log = context.log.info if finding.action == RESENT else context.log.warning
        log(
            f"{finding.finding} for {finding.lead_id} {finding.operation}: {finding.action}, {finding.detail}"
        )
    if outcome.crm_unavailable:
        raise Failure(
            description=f"the CRM became unavailable, repairs wait in the outbox: {outcome.crm_unavailable}",
            metadata={"findings": len(outcome.findings)},
        )
    by_finding = pd.Series([f.finding for f in outcome.findings], dtype="object").value_counts().to_dict()
    unresolved = [f for f in outcome.findings if f.action in (FLAGGED, RESEND_NEXT_RUN)]
    counts = {
        "writes_checked": outcome.checked,
        "repaired": sum(1 for f in outcome.findings if f.action == RESENT),
        "flagged": sum(1 for f in outcome.findings if f.action == FLAGGED),
        "unconfirmed": sum(1 for f in outcome.findings if f.action == RESEND_NEXT_RUN),
        "sent": sum(1 for result in outcome.results if result.status == "written"),
    }
    yield Output(
        None,
        metadata={
            **counts,
            **{str(finding): int(count) for finding, count in by_finding.items()},
            "findings": MetadataValue.md(_findings_table(outcome.findings)),
        },
    )
    yield AssetCheckResult(
        check_name=CHECK_NAME,
        asset_key=CRM_RECONCILIATION_KEY,
        passed=not unresolved,
        severity=(
            AssetCheckSeverity.ERROR
            if any(f.action == RESEND_NEXT_RUN for f in unresolved)
            else AssetCheckSeverity.WARN
        ),
        metadata={"unresolved": len(unresolved), "repaired": counts["repaired"]},
    )


def _findings_table(findings, limit: int = 20) -> str:
    if not findings:
        return "The CRM holds everything LeadOps decided."
    lines = ["| lead | operation | finding | action | detail |", "|---|---|---|---|---|"]
    lines += [
        f"| {f.lead_id} | {f.operation} | {f.finding} | {f.action} | {f.detail} |" for f in findings[:limit]
    ]
    if len(findings) > limit:
        lines.append(f"\n{len(findings) - limit} more in ops.crm_reconciliation")
    return "\n".join(lines)
