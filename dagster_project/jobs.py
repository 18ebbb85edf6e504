"""The one job that carries a batch from the landing zone to CRM writes, and its safety-net schedule."""

import json
import time
from collections.abc import Iterator

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Executor,
    InitExecutorContext,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    executor,
    in_process_executor,
    job,
    schedule,
)

from assets.crm.assets import CRM_SNAPSHOT_GROUP
from assets.ingest.resources import LandingZone
from assets.outbound.assets import OUTBOX_RETRY_GROUP, SLA_GROUP
from assets.outbound.publish import READER_COPY_KEY
from assets.outbound.reconciliation import RECONCILIATION_GROUP
from dagster_project.dbt import dbt_audit_tests, leadops_dbt_outcomes
from dagster_project.run_lock import describe_this_process, hold_run_lock, run_lock_path
from dagster_project.settings import current_settings

STEP_SECONDS_TAG = "leadops/step_seconds"


class _OneRunAtATimeExecutor(Executor):
    """The in-process executor, inside the run lock every `process_leads` run takes (run_lock.py), so a
    daemon-launched run waits for a `leadops run` in progress instead of failing on the DuckDB lock."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator:
        run_id = plan_context.dagster_run.run_id
        lock = run_lock_path(current_settings().home)

        def announce(holder: str) -> None:
            plan_context.log.warning(f"Waiting for the warehouse: {holder} is processing leads ...")

        step_seconds: dict[str, float] = {}
        waited = time.monotonic()
        with hold_run_lock(lock, describe_this_process(f"run {run_id}"), on_wait=announce):
            step_seconds["(waiting for the run lock)"] = round(time.monotonic() - waited, 2)
            for event in self._inner.execute(plan_context, execution_plan):
                if event.is_step_success or event.is_step_failure:
                    duration_ms = getattr(event.event_specific_data, "duration_ms", None)
                    if duration_ms is not None:
                        step_seconds[event.step_key] = round(duration_ms / 1000, 2)
                yield event
        # Per-step durations on the run itself (a tag the runs list and `leadops` can read without
        # scanning the event log): where a batch's seconds went.
        plan_context.instance.add_run_tags(run_id, {STEP_SECONDS_TAG: json.dumps(step_seconds)})
        listing = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in step_seconds.items())
        plan_context.log.info(f"Step durations: {listing}")


@executor(
    name="in_process_one_run_at_a_time",
    config_schema=in_process_executor.config_schema,
)
def one_run_at_a_time_executor(init_context: InitExecutorContext) -> Executor:
    return _OneRunAtATimeExecutor(in_process_executor.executor_creation_fn(init_context))


# In-process: the multiprocess executor starts a fresh Python per step (5–12 s each) and its parallel
# steps fight over the DuckDB file lock (whole graph 36.5 s vs 19.8 s in-process, measured on 2 cores).
process_leads_job = define_asset_job(
    name="process_leads",
    selection=AssetSelection.groups(
        "ingest",
        "crm_snapshot",
        "identity",
        "enrichment",
        "interpretation",
        "dbt_rules",
        "dbt_staging",
        "dbt_intermediate",
        "dbt_marts",
        "decisions",
        "outbound",
    )
    - AssetSelection.assets(leadops_dbt_outcomes),
    executor_def=one_run_at_a_time_executor,
    description="Landing zone → raw → dbt (normalize, match, route) → state log → CRM writes → reader copy.",
)

# Outcome feedback: the feedback asset, the dbt models tagged `outcomes` (dagster-dbt turns dbt tags into
# asset tags: the outcome models, dbt.py OUTCOMES_SELECTION, and the feedback staging views between them and
# raw_outcome_events, which keep them in order) and the report. Same one-run-at-a-time executor: it writes
# the same DuckDB file.
process_outcomes_job = define_asset_job(
    name="process_outcomes",
    selection=AssetSelection.groups("feedback") | AssetSelection.tag("outcomes", ""),
    executor_def=one_run_at_a_time_executor,
    description="Feedback folder → raw.outcome_events → outcome marts (dbt) → HTML report.",
)


@schedule(
    name="refresh_outcomes",
    job=process_outcomes_job,
    cron_schedule=current_settings().outcomes_refresh_cron,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Rebuilds the outcome marts and the report with the leads decided since the last build.",
)
def refresh_outcomes_schedule(context: ScheduleEvaluationContext):
    """Batches do not build the outcome marts (they read whole history); this keeps speed-to-lead and
    workload current between feedback files. Files already in the feedback folder are stored on the way."""
    return RunRequest(
        run_config={"ops": {"raw_outcome_events": {"config": {"files": []}}}},
        tags={"leadops/trigger": "outcomes_schedule"},
    )


# Sends the outbox's due actions and publishes the reader copy: no ingest, no dbt, so a retry is seconds.
# Same one-run-at-a-time executor: it writes the same DuckDB file. Launched by sensors/outbox_retry.py.
retry_due_actions_job = define_asset_job(
    name="retry_due_actions",
    selection=AssetSelection.groups(OUTBOX_RETRY_GROUP) | AssetSelection.assets(READER_COPY_KEY),
    executor_def=one_run_at_a_time_executor,
    description="Outbox → due actions sent (retries, operator retries, interrupted sends) → reader copy.",
)

# Reminds owners of missed first-touch SLAs and re-routes where the policy says so, then publishes the
# reader copy: no ingest, no dbt. Launched by sensors/sla_breaches.py; same one-run-at-a-time executor.
enforce_first_touch_sla_job = define_asset_job(
    name="enforce_first_touch_sla",
    selection=AssetSelection.groups(SLA_GROUP) | AssetSelection.assets(READER_COPY_KEY),
    executor_def=one_run_at_a_time_executor,
    description="Missed first-touch SLAs → Slack reminder, then re-route to the next owner → reader copy.",
)

# Pulls what changed in the CRM into the snapshot between batches: only the crm/* assets (the same ones
# process_leads pulls with first), no ingest, no dbt. Same one-run-at-a-time executor: it writes the same
# DuckDB file. Launched by sensors/crm_pull.py.
pull_crm_job = define_asset_job(
    name="pull_crm",
    selection=AssetSelection.groups(CRM_SNAPSHOT_GROUP),
    executor_def=one_run_at_a_time_executor,
    description="CRM → owners, accounts, contacts, open opportunities changed since the last pull → crm.*.",
)

# Compares decided state with the CRM for every lead written so far, repairs through the outbox, flags the
# rest, then publishes the reader copy. Launched by sensors/crm_reconciliation.py; same executor.
reconcile_crm_job = define_asset_job(
    name="reconcile_crm",
    selection=AssetSelection.groups(RECONCILIATION_GROUP) | AssetSelection.assets(READER_COPY_KEY),
    executor_def=one_run_at_a_time_executor,
    description="Outbox's done writes vs the CRM → repairs sent, the rest flagged → reader copy.",
)


@schedule(
    name="process_waiting_leads",
    job=process_leads_job,
    cron_schedule=current_settings().safety_net_cron,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Safety net: processes files a failed or missed run left in the landing zone.",
)
def safety_net_schedule(context: ScheduleEvaluationContext, landing: LandingZone):
    """Only when something waits: an empty run would occupy the one-run queue and delay the next batch."""
    waiting = landing.pending_files()
    if not waiting:
        return SkipReason(f"nothing waiting in {landing.directory}")
    return RunRequest(run_config={"ops": {"raw_inbound_events": {"config": {"files": []}}}})


@job(
    name="audit_warehouse",
    executor_def=one_run_at_a_time_executor,
    description="Every dbt data test over the whole warehouse, incl. those kept off the per-batch path.",
)
def audit_warehouse_job() -> None:
    dbt_audit_tests()


# Nightly: the audits read whole tables, and this run takes the one run slot, so a lead landing meanwhile
# waits for it (~10 s).
audit_warehouse_schedule = ScheduleDefinition(
    name="audit_warehouse_nightly",
    job=audit_warehouse_job,
    cron_schedule="0 4 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Runs the audit tests; a failure fails the run, visible in the UI.",
)
