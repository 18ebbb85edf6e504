"""On a schedule (`LEADOPS_CRM_PULL_CRON`, every 10 minutes by default): run `pull_crm`, the small job that
pulls what changed in the CRM into the snapshot (crm.*) by updated-at, no ingest, no dbt.

Every `process_leads` run pulls first too, so routing never waits for this schedule; it keeps the snapshot
current between batches, so a run's own pull stays small. Skipped while a `process_leads` run is in flight
(it holds the warehouse, and pulls itself) and while there is no embedded CRM to read yet.
"""

from __future__ import annotations

from pathlib import Path

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from dagster_project.settings import current_settings
from sensors.runs import live_runs_in_flight

PULL_JOB_NAME = "pull_crm"


def pull_request(crm_kind: str, embedded_path: Path, batch_running: bool) -> RunRequest | SkipReason:
    """The schedule's decision, apart from Dagster."""
    if crm_kind == "embedded" and not embedded_path.is_file():
        return SkipReason(f"no CRM at {embedded_path} yet: `leadops crm import` creates it")
    if batch_running:
        return SkipReason("a process_leads run is in flight: it pulls the CRM itself")
    return RunRequest(tags={"leadops/trigger": "crm_pull"})


@schedule(
    name="pull_crm",
    job_name=PULL_JOB_NAME,
    cron_schedule=current_settings().crm.pull_cron,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Pulls CRM owners, accounts, contacts and open opportunities changed since the last pull.",
)
def pull_crm_schedule(context: ScheduleEvaluationContext):
    settings = current_settings()
    running = bool(live_runs_in_flight(context.instance))
    return pull_request(settings.crm.kind, settings.crm_path, running)
