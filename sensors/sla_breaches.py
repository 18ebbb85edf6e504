"""Every few minutes: when a routed lead's first-touch SLA has passed in business time with no first touch
(a reminder is due, or a re-route after an unanswered reminder), run `enforce_first_touch_sla`.

Reads only the reader copy of the warehouse published after each successful run, never the live file (the
run is the warehouse's one writer), and never the CRM: the run reads the CRM for the due leads and logs a
lead it shows worked as touched instead of taking a step. The run key names the due steps, so ticks before
the run publishes its result are dropped by Dagster, and a new breach (or the next step of one) gets a new
key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from assets.outbound.sla import SlaStep, due_sla_steps
from dagster_project.settings import current_settings
from sensors.runs import live_runs_in_flight

SLA_JOB_NAME = "enforce_first_touch_sla"
# SLAs are minutes to hours long: a look every two minutes is on time without keeping the daemon busy.
INTERVAL_SECONDS = 120


def due_steps(reader_path: Path, now: datetime) -> list[SlaStep] | None:
    """The due SLA steps in the reader copy; None when there is no copy yet."""
    if not reader_path.is_file():
        return None
    try:
        with duckdb.connect(str(reader_path), read_only=True) as con:
            return due_sla_steps(con, now)
    except duckdb.CatalogException:
        return None


def sla_run_key(steps: list[SlaStep]) -> str:
    names = sorted(f"{step.lead_id}:{step.owner_id}:{step.step}" for step in steps)
    return "sla-" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def sla_request(reader_path: Path, now: datetime, batch_running: bool) -> RunRequest | SkipReason:
    """The sensor's decision, apart from Dagster: a run only when a step is due."""
    steps = due_steps(reader_path, now)
    if steps is None:
        return SkipReason(f"no reader copy at {reader_path} yet: no SLA to watch")
    if not steps:
        return SkipReason("no first-touch SLA has passed without a touch")
    if batch_running:
        return SkipReason(f"{len(steps)} SLA steps wait for the run in progress to finish")
    reminders = sum(1 for step in steps if step.step == "remind")
    return RunRequest(
        run_key=sla_run_key(steps),
        tags={
            "leadops/trigger": "sla_breach",
            "leadops/sla_reminders": str(reminders),
            "leadops/sla_reroutes": str(len(steps) - reminders),
        },
    )


@sensor(
    name="sla_breaches",
    job_name=SLA_JOB_NAME,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Routed leads past their first-touch SLA (business time) without a first touch: runs"
        " enforce_first_touch_sla (reminder, then re-route). Reads only the reader copy."
    ),
)
def sla_breaches_sensor(context: SensorEvaluationContext):
    running = bool(live_runs_in_flight(context.instance))
    return sla_request(current_settings().reader_warehouse_path, datetime.now(UTC), running)
