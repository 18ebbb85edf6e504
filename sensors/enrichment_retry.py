"""Watches for parked enrichment lookups that are due, and runs the pipeline again for them.

A domain whose providers failed transiently waits as `pending_retry` in `enrichment.domain_firmographics`
until `next_attempt_at` (backoff) or, at the latest, `deadline_at`. When one is due, the sensor requests a
`process_leads` run; the enrichment asset retries it there and the rules route the waiting leads (or
escalate them once the domain is `unavailable`).

It reads only the read-only copy of the warehouse published after each successful run, never the live
file: the run is the warehouse's one writer, and even a millisecond read of the live file breaks a
concurrent `dbt build` (measured: a reader holding the file fails dbt's lock at once).

Run keys: one per due moment (the earliest due time), so repeated ticks before the run publishes its
result are dropped by Dagster. A run that failed publishes nothing, so its due moment stays; the key then
changes every RERUN_AFTER_FAILURE so a broken run is retried a few times an hour rather than never, or
on every tick.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from assets.enrichment.domain_firmographics import TABLE, DomainStatus
from dagster_project.settings import current_settings
from sensors.runs import PROCESS_LEADS_JOB_NAME, batch_in_flight

# The shortest backoff is a minute; checking twice a minute keeps a due lead's extra wait under 30 s.
MINIMUM_INTERVAL_SECONDS = 30
# Same cadence as the safety-net schedule's default (*/15): a failing pipeline is tried 4 times an hour.
RERUN_AFTER_FAILURE = timedelta(minutes=15)

_DUE_SQL = f"""
select count(*), min(least(coalesce(next_attempt_at, deadline_at), deadline_at))
from {TABLE}
where status = '{DomainStatus.PENDING_RETRY.value}'
  and least(coalesce(next_attempt_at, deadline_at), deadline_at) <= ?
"""


@dataclass(frozen=True)
class DueRetries:
    domains: int
    earliest_due_at: datetime | None  # naive UTC, as stored


def due_retries(reader_path: Path, now: datetime) -> DueRetries | None:
    """Due `pending_retry` domains in the reader copy; None when there is no copy or no table yet."""
    if not reader_path.is_file():
        return None
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    try:
        with duckdb.connect(str(reader_path), read_only=True) as con:
            count, earliest = con.execute(_DUE_SQL, [naive_now]).fetchone()
    except duckdb.CatalogException:
        return None
    return DueRetries(int(count), earliest)


def retry_run_key(earliest_due_at: datetime, now: datetime) -> str:
    """Same due moment → same key; a new key every RERUN_AFTER_FAILURE while that moment stays due."""
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    reruns = max(0, int((naive_now - earliest_due_at) / RERUN_AFTER_FAILURE))
    key = f"enrichment-retry-{earliest_due_at:%Y%m%dT%H%M%S.%f}"
    return f"{key}-rerun-{reruns}" if reruns else key


@sensor(
    job_name=PROCESS_LEADS_JOB_NAME,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Launches process_leads when a parked enrichment lookup is due (pending_retry past next_attempt_at"
        " or its deadline); reads only the warehouse reader copy."
    ),
)
def enrichment_retry_sensor(context: SensorEvaluationContext):
    reader_path = current_settings().reader_warehouse_path
    now = datetime.now(UTC)
    due = due_retries(reader_path, now)
    if due is None:
        return SkipReason(f"no {TABLE} in {reader_path} yet: nothing is waiting for enrichment")
    if due.domains == 0 or due.earliest_due_at is None:
        return SkipReason("no parked enrichment lookup is due")
    if batch_in_flight(context):
        return SkipReason(f"{due.domains} due enrichment retries wait for the process_leads run in progress")
    return RunRequest(
        run_key=retry_run_key(due.earliest_due_at, now),
        tags={"leadops/trigger": "enrichment_retry", "leadops/due_domains": str(due.domains)},
    )
