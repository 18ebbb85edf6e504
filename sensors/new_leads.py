"""Watches the landing zone: one run per batch of newly landed files, never the same batch twice.

The cursor is the set of file names already handed to a run that are still in the landing zone (ingest
archives a file once it is in the warehouse, so the set stays small). A name-based cursor, unlike an mtime
watermark, cannot miss a file whose producer wrote it before an earlier file but renamed it in after.
The sensor reads only the landing folder, never the warehouse: the run is the warehouse's only user.

While a run is queued or in progress, new files wait and the next run takes all of them: one run per file
queued behind each other made latency grow with every file (a 12-lead trickle, one file every 20 s, reached
p50 114 s because each ~30 s run waited for all earlier ones).

A run whose process died is marked failed (sensors/runs.py) and the files it was given, still in the landing
zone, go back into the next batch at once rather than waiting for the safety-net schedule.
"""

import hashlib
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from assets.ingest.resources import LandingZone
from dagster_project.jobs import process_leads_job
from dagster_project.settings import current_settings
from sensors.runs import batch_in_flight, reclaim_dead_runs


def batch_run_key(files: list[tuple[str, int, int]], after_dead_runs: list[str] | None = None) -> str:
    """Same files (name, size, mtime) → same key, so Dagster drops a repeated request. Files given back by a
    dead run carry its id, or Dagster would drop their second run as a repeat of the dead one."""
    digest = hashlib.sha256(json.dumps(sorted(files)).encode()).hexdigest()[:16]
    after = "".join(f"-after-{run_id[:8]}" for run_id in sorted(after_dead_runs or []))
    return f"landing-{digest}{after}"


@sensor(
    job=process_leads_job,
    minimum_interval_seconds=current_settings().sensor_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches process_leads for each new batch of *.jsonl files in the landing zone.",
)
def new_leads_sensor(context: SensorEvaluationContext, landing: LandingZone):
    landed = landing.pending_files()
    handed_over = set(json.loads(context.cursor)) if context.cursor else set()
    present = {path.name for path in landed}
    dead_runs = reclaim_dead_runs(context.instance)
    for dead in dead_runs:
        context.log.warning(dead.reason)
        # A run given no file list took everything waiting: every handed-over file goes back.
        if dead.files:
            handed_over -= set(dead.files)
        else:
            handed_over.clear()
    new_files = [path for path in landed if path.name not in handed_over]
    if not new_files:
        context.update_cursor(json.dumps(sorted(handed_over & present)))
        return SkipReason(f"no new files in {landing.directory} ({len(present)} still being processed)")
    if batch_in_flight(context):
        # Given-back files stay in the cursor here: the run still in flight is a queued retry or safety-net
        # run, and those are given no file list, so they take every file waiting, these included.
        return SkipReason(
            f"{len(new_files)} new file(s) wait for the run in progress; the next run takes them all"
        )
    stats = [(path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in new_files]
    context.update_cursor(json.dumps(sorted((handed_over & present) | {path.name for path in new_files})))
    return RunRequest(
        run_key=batch_run_key(stats, [dead.run_id for dead in dead_runs]),
        run_config={"ops": {"raw_inbound_events": {"config": {"files": [name for name, _, _ in stats]}}}},
        tags={"leadops/files": str(len(new_files))},
    )
