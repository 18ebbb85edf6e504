"""Watches the operator's overrides file: when its content changes, one `process_leads` run applies it, so a
pause or a reroute takes effect without waiting for the next lead to land.

The sensor reads the file (through the `overrides_file` resource) and the Dagster instance's event log,
never the warehouse: the run is the warehouse's only user. The cursor is the hash of the content last handed
to a run. A run that already loaded the current content (e.g. one the landing sensor started) is recognised
by the hash it recorded on `operator_overrides`, so it costs no second run.
"""

from dataclasses import dataclass

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from assets.overrides.assets import CONTENT_SHA256_METADATA, OPERATOR_OVERRIDES_KEY
from assets.overrides.resources import OverridesSource
from dagster_project.settings import current_settings
from sensors.runs import PROCESS_LEADS_JOB_NAME, batch_in_flight


@dataclass(frozen=True)
class LastLoad:
    """The latest `operator_overrides` materialization: what it loaded, in which run, when."""

    content_sha256: str | None
    run_id: str
    timestamp_ms: int


def overrides_run_key(content_sha256: str, last_load: LastLoad | None) -> str:
    """This content after that load. The content hash alone would drop an edit that restores an earlier
    content (A → B → A: the third state's key equals the first's, and Dagster drops repeated keys)."""
    after = f"{last_load.timestamp_ms}" if last_load else "none"
    return f"overrides-{content_sha256[:16]}-after-{after}"


@sensor(
    job_name=PROCESS_LEADS_JOB_NAME,
    minimum_interval_seconds=current_settings().sensor_interval_seconds,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches process_leads when $LEADOPS_HOME/overrides/overrides.csv changes.",
)
def overrides_changed_sensor(context: SensorEvaluationContext, overrides_file: OverridesSource):
    digest = overrides_file.read_snapshot().content_sha256
    if context.cursor == digest:
        return SkipReason(f"{overrides_file.describe()} unchanged since the last run request")
    if batch_in_flight(context):
        # The run in progress may have read the file before the change; decide once it has finished.
        return SkipReason("the overrides changed; waiting for the run in progress before deciding")
    last_load = _last_load(context)
    if last_load is not None and last_load.content_sha256 == digest:
        context.update_cursor(digest)
        return SkipReason(f"run {last_load.run_id or '(runless)'} already loaded the current overrides")
    context.update_cursor(digest)
    return RunRequest(
        run_key=overrides_run_key(digest, last_load),
        tags={"leadops/trigger": "overrides_changed", "leadops/overrides_sha256": digest[:16]},
    )


def _last_load(context: SensorEvaluationContext) -> LastLoad | None:
    entry = context.instance.get_latest_materialization_event(OPERATOR_OVERRIDES_KEY)
    if entry is None or entry.asset_materialization is None:
        return None
    recorded = entry.asset_materialization.metadata.get(CONTENT_SHA256_METADATA)
    return LastLoad(
        content_sha256=str(recorded.value) if recorded is not None else None,
        run_id=entry.run_id,
        timestamp_ms=int(entry.timestamp * 1000),
    )
