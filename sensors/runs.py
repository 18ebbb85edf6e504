"""What the sensors (and `leadops run`) ask of the Dagster instance: is a `process_leads` run queued or
running, and is the process behind a running one still alive?

The warehouse has one writer, so a sensor that finds a run in flight waits, and the next run takes
everything that arrived meanwhile. A run whose process was killed (SIGKILL, OOM, a closed laptop) stays
STARTED in the instance forever: Dagster 1.13's run monitoring asks the run launcher for the worker's
health, and neither the DefaultRunLauncher (its `supports_check_run_worker_health` is False) nor
`execute_in_process` (the CLI's runs, no launcher at all) can answer, so monitoring only applies
`max_runtime_seconds`, and only while the daemon runs. Waiting behind such a run stopped the pipeline.

So every in-flight run is checked here: each Dagster event records the pid of the process that wrote it,
and the RUN_START event is written by the run's own process (the CLI for `leadops run`, the run worker for
daemon-launched runs). A run whose process no longer exists, or whose pid now belongs to a process started
after the run, is marked failed with that reason and no longer holds the next batch back.

Under the daemon, run monitoring (dagster.yaml) asks the warm run launcher the same question within a poll
and fails the run itself; the launcher tags such a run, and the next look here hands its files back once,
as if it had found the dead run itself, so they go into the next batch instead of waiting for the
safety-net schedule.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
    SensorEvaluationContext,
)

PROCESS_LEADS_JOB_NAME = "process_leads"

IN_FLIGHT_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
# Statuses in which a process of ours is (or was) executing the run; a QUEUED run has no process yet and is
# the run coordinator's to start.
_WITH_A_PROCESS = {DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}

# Tags `leadops run` puts on the runs it executes in its own process.
PID_TAG = "leadops/pid"
HOST_TAG = "leadops/host"
# Put by the warm run launcher's health check on a run whose worker it found gone (run monitoring then
# fails the run), and here on a dead run once its files were handed back to the next batch.
DEAD_WORKER_TAG = "leadops/dead_worker"
FILES_GIVEN_BACK_TAG = "leadops/files_given_back"
# Monitoring-failed runs looked at per call: a handful die in a bad day, and each is handed back once.
_RECENT_DEAD_WORKERS = 50

# A process that started up to this long after the run's own start time is still taken as the run's
# process: the recorded start time and /proc's clock-tick start time disagree by well under a second.
_START_TIME_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class DeadRun:
    """A run that was in flight in the instance but whose process is gone; already marked failed."""

    run_id: str
    pid: int
    reason: str
    files: tuple[str, ...]  # the landed files it was given; empty = everything waiting


def batch_in_flight(context: SensorEvaluationContext) -> bool:
    """Whether a live `process_leads` run is queued or running; dead ones are marked failed on the way."""
    return bool(live_runs_in_flight(context.instance))


def live_runs_in_flight(instance: DagsterInstance) -> list[RunRecord]:
    """The in-flight `process_leads` runs after marking the dead ones failed (see `reclaim_dead_runs`)."""
    reclaim_dead_runs(instance)
    return list(
        instance.get_run_records(
            filters=RunsFilter(job_name=PROCESS_LEADS_JOB_NAME, statuses=IN_FLIGHT_STATUSES)
        )
    )


def reclaim_dead_runs(instance: DagsterInstance) -> list[DeadRun]:
    """Mark failed every in-flight `process_leads` run whose process no longer exists on this machine, and
    return those together with the runs run monitoring failed for a dead worker since the last call."""
    records = instance.get_run_records(
        filters=RunsFilter(job_name=PROCESS_LEADS_JOB_NAME, statuses=list(_WITH_A_PROCESS))
    )
    dead: list[DeadRun] = []
    for record in records:
        found = dead_process_of(instance, record)
        if found is None:
            continue
        pid, why = found
        run = record.dagster_run
        reason = (
            f"LeadOps marked run {run.run_id} failed: it was {run.status.value} but its process {pid} {why}"
            " (killed or crashed without recording an end). Files it had not archived stay in the landing"
            " zone and go into the next run."
        )
        # The status may have changed since the query (the run just finished): only fail a run still open.
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status not in _WITH_A_PROCESS:
            continue
        instance.report_run_failed(current, reason)
        instance.add_run_tags(run.run_id, {FILES_GIVEN_BACK_TAG: "true"})
        dead.append(DeadRun(run.run_id, pid, reason, _files_of(run.run_config)))
    return dead + _failed_by_monitoring(instance)


def _failed_by_monitoring(instance: DagsterInstance) -> list[DeadRun]:
    """Runs run monitoring failed because the launcher found their worker gone, each returned once."""
    records = instance.get_run_records(
        filters=RunsFilter(
            job_name=PROCESS_LEADS_JOB_NAME,
            statuses=[DagsterRunStatus.FAILURE],
            tags={DEAD_WORKER_TAG: "true"},
        ),
        limit=_RECENT_DEAD_WORKERS,
    )
    dead: list[DeadRun] = []
    for record in records:
        run = record.dagster_run
        if run.tags.get(FILES_GIVEN_BACK_TAG):
            continue
        instance.add_run_tags(run.run_id, {FILES_GIVEN_BACK_TAG: "true"})
        pid = _pid_of(instance, run.run_id, run.tags) or 0
        reason = (
            f"Run monitoring marked run {run.run_id} failed: its worker process {pid} exited without"
            " recording the run's end (killed or crashed). Files it had not archived stay in the landing zone"
            " and go into the next run."
        )
        dead.append(DeadRun(run.run_id, pid, reason, _files_of(run.run_config)))
    return dead


def dead_process_of(instance: DagsterInstance, record: RunRecord) -> tuple[int, str] | None:
    """(pid, why) when the run's process is known to be gone; None when alive or when it cannot be told."""
    run = record.dagster_run
    host = run.tags.get(HOST_TAG)
    if host and host != socket.gethostname():
        return None  # another machine's process: nothing here can tell
    pid = _pid_of(instance, run.run_id, run.tags)
    if pid is None:
        return None
    started_at = record.start_time or record.create_timestamp.timestamp()
    state = process_state(pid)
    if state is None:
        return pid, "no longer exists"
    process_started_at, zombie = state
    if zombie:
        return pid, "has exited"
    if process_started_at is not None and process_started_at > started_at + _START_TIME_SLACK_SECONDS:
        return pid, "no longer exists (the pid now belongs to a newer process)"
    return None


def _pid_of(instance: DagsterInstance, run_id: str, tags) -> int | None:
    if tags.get(PID_TAG, "").isdigit():
        return int(tags[PID_TAG])
    # The DefaultRunLauncher runs workers on the daemon's machine, the one the sensors run on.
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.RUN_START):
        if entry.dagster_event is not None and entry.dagster_event.pid:
            return entry.dagster_event.pid
    return None


def process_state(pid: int) -> tuple[float | None, bool] | None:
    """(start time as a Unix timestamp or None when unknown, is a zombie) of a live pid; None when gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        boot_time = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, StopIteration, ValueError):
        return None, False  # no /proc (macOS): existence is all that can be told
    state, start_ticks = fields[0], int(fields[19])
    return boot_time + start_ticks / os.sysconf("SC_CLK_TCK"), state == "Z"


def _files_of(run_config) -> tuple[str, ...]:
    files = (run_config or {}).get("ops", {}).get("raw_inbound_events", {}).get("config", {}).get("files")
    return tuple(files or ())
