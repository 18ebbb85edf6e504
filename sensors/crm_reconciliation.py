"""On a schedule (`LEADOPS_CRM_RECONCILE_CRON`, hourly at :40 by default): run `reconcile_crm`, which
compares what LeadOps decided and wrote with what the CRM holds, repairs what the pipeline owns through the
outbox and flags the rest (assets/outbound/reconciliation.py).

Reads only the reader copy of the warehouse (the run is the warehouse's one writer): skipped until the
outbox has written something, and while a `process_leads` run is in flight (it reconciles its own leads).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from dagster_project.settings import current_settings
from sensors.runs import live_runs_in_flight

RECONCILE_JOB_NAME = "reconcile_crm"


def written_actions(reader_path: Path) -> int:
    """Done outbox actions in the reader copy; 0 when there is no copy or no outbox yet."""
    if not reader_path.is_file():
        return 0
    try:
        with duckdb.connect(str(reader_path), read_only=True) as con:
            done = "select count(*) from ops.outbox_actions where status = 'done'"
            [(count,)] = con.execute(done).fetchall()
    except duckdb.CatalogException:
        return 0
    return int(count)


def reconcile_request(reader_path: Path, batch_running: bool) -> RunRequest | SkipReason:
    """The schedule's decision, apart from Dagster."""
    written = written_actions(reader_path)
    if not written:
        return SkipReason("the outbox has written nothing to the CRM yet")
    if batch_running:
        return SkipReason("a process_leads run is in flight: it reconciles the leads it writes")
    return RunRequest(tags={"leadops/trigger": "crm_reconciliation", "leadops/written_actions": str(written)})


@schedule(
    name="reconcile_crm",
    job_name=RECONCILE_JOB_NAME,
    cron_schedule=current_settings().crm.reconcile_cron,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Compares decided state with the CRM, repairs through the outbox, flags the rest.",
)
def reconcile_crm_schedule(context: ScheduleEvaluationContext):
    running = bool(live_runs_in_flight(context.instance))
    return reconcile_request(current_settings().reader_warehouse_path, running)
