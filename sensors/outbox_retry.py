"""Every minute: when an outbox action is due (a retry after backoff, one an operator retried, a send a dead
process left in flight), run `retry_due_actions`, the small job that only sends due actions (no dbt).

Reads only the read-only copy of the warehouse published after each successful run, never the live file
(the run is the warehouse's one writer; even a millisecond read breaks a concurrent `dbt build`). The retry
job publishes a new copy when it is done.

Run keys: one per due moment (the earliest due action), so ticks before the run publishes its result are
dropped by Dagster; a failed run publishes nothing, so the key changes every RERUN_AFTER_FAILURE while that
moment stays due, and a CRM that is down is tried a few times an hour rather than never, or every minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from assets.outbound.outbox import due_count, next_due_at
from dagster_project.settings import current_settings
from sensors.runs import live_runs_in_flight

RETRY_JOB_NAME = "retry_due_actions"
RERUN_AFTER_FAILURE = timedelta(minutes=15)


@dataclass(frozen=True)
class DueActions:
    count: int
    earliest_due_at: datetime | None  # naive UTC, as stored


def due_actions(reader_path: Path, now: datetime) -> DueActions | None:
    """Due actions in the reader copy; None when there is no copy or no outbox yet."""
    if not reader_path.is_file():
        return None
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    try:
        with duckdb.connect(str(reader_path), read_only=True) as con:
            return DueActions(due_count(con, naive_now), next_due_at(con))
    except duckdb.CatalogException:
        return None


def retry_run_key(earliest_due_at: datetime, now: datetime) -> str:
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    reruns = max(0, int((naive_now - earliest_due_at) / RERUN_AFTER_FAILURE))
    key = f"outbox-retry-{earliest_due_at:%Y%m%dT%H%M%S.%f}"
    return f"{key}-rerun-{reruns}" if reruns else key


def retry_request(reader_path: Path, now: datetime, batch_running: bool) -> RunRequest | SkipReason:
    """The schedule's decision, apart from Dagster: a run only when something is due."""
    due = due_actions(reader_path, now)
    if due is None:
        return SkipReason(f"no outbox in {reader_path} yet: nothing to retry")
    if due.count == 0 or due.earliest_due_at is None:
        return SkipReason("no outbox action is due")
    if batch_running:
        return SkipReason(
            f"{due.count} due actions wait for the process_leads run in progress, which sends them"
        )
    return RunRequest(
        run_key=retry_run_key(due.earliest_due_at, now),
        tags={"leadops/trigger": "outbox_retry", "leadops/due_actions": str(due.count)},
    )


@schedule(
    name="retry_due_actions",
    job_name=RETRY_JOB_NAME,
    cron_schedule="* * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Every minute: runs retry_due_actions when an outbox action is due; reads only the reader copy."
    ),
)
def retry_due_actions_schedule(context: ScheduleEvaluationContext):
    running = bool(live_runs_in_flight(context.instance))
    return retry_request(current_settings().reader_warehouse_path, datetime.now(UTC), running)
