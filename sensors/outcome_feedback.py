"""Watches the feedback folder: one process_outcomes run per batch of new outcome files.

The cursor is the set of file names already handed to a run that are still in the folder (the ingest
archives a file once it is stored, so the set stays small); the run_key is a hash of the batch's names,
sizes and mtimes, so a repeated request for the same batch is dropped by Dagster. The sensor reads only the
folder, never the warehouse: the run is the warehouse's only user.
"""

import hashlib
import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from assets.feedback.resource import FeedbackZone
from dagster_project.jobs import process_outcomes_job
from dagster_project.settings import current_settings


def outcome_batch_run_key(files: list[tuple[str, int, int]]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(files)).encode()).hexdigest()[:16]
    return f"feedback-{digest}"


@sensor(
    job=process_outcomes_job,
    minimum_interval_seconds=current_settings().sensor_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches process_outcomes for each new batch of *.jsonl files in the feedback folder.",
)
def outcome_feedback_sensor(context: SensorEvaluationContext, feedback: FeedbackZone):
    landed = feedback.pending_files()
    handed_over = set(json.loads(context.cursor)) if context.cursor else set()
    present = {path.name for path in landed}
    new_files = [path for path in landed if path.name not in handed_over]
    if not new_files:
        context.update_cursor(json.dumps(sorted(handed_over & present)))
        return SkipReason(f"no new outcome files in {feedback.directory}")
    stats = [(path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in new_files]
    context.update_cursor(json.dumps(sorted((handed_over & present) | {path.name for path in new_files})))
    return RunRequest(
        run_key=outcome_batch_run_key(stats),
        run_config={"ops": {"raw_outcome_events": {"config": {"files": [name for name, _, _ in stats]}}}},
        tags={"leadops/outcome_files": str(len(new_files))},
    )
