"""A run recorded as in flight whose process is gone never holds the pipeline back: it is marked failed with
the reason, and the next batch (its own files included) is requested at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
    instance_for_test,
)

from assets.ingest.resources import LandingZone
from sensors.new_leads import new_leads_sensor
from sensors.runs import HOST_TAG, PID_TAG, batch_in_flight, process_state, reclaim_dead_runs


@pytest.fixture(scope="module")
def module_instance(tmp_path_factory):
    """A real instance with sqlite storage in a temporary DAGSTER_HOME, as the daemon and the CLI use;
    made once per module (3-7 s) and wiped between tests."""
    home = tmp_path_factory.mktemp("dagster")
    with instance_for_test(temp_dir=str(home)) as real:
        yield real


@pytest.fixture
def instance(module_instance):
    module_instance.wipe()
    return module_instance


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_state(child.pid) is None
    return child.pid


def started_run(instance, run_id: str, pid: int, files: list[str]) -> DagsterRun:
    return instance.add_run(
        DagsterRun(
            job_name="process_leads",
            run_id=run_id,
            status=DagsterRunStatus.STARTED,
            run_config={"ops": {"raw_inbound_events": {"config": {"files": files}}}},
            tags={PID_TAG: str(pid), HOST_TAG: socket.gethostname()},
        )
    )


def land(landing_dir, name):
    landing_dir.mkdir(parents=True, exist_ok=True)
    (landing_dir / name).write_text('{"event_id": "e1"}\n')


def tick(instance, landing_dir, cursor):
    context = build_sensor_context(
        cursor=cursor, instance=instance, resources={"landing": LandingZone(path=str(landing_dir))}
    )
    return new_leads_sensor(context), context.cursor


def test_a_started_run_whose_process_is_gone_is_failed_and_the_next_batch_goes(tmp_path, instance, dead_pid):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    started_run(instance, "crashed-run", dead_pid, ["a.jsonl"])
    land(landing, "b.jsonl")

    result, cursor = tick(instance, landing, '["a.jsonl"]')

    assert isinstance(result, RunRequest)
    # The crashed run's file goes into the next batch with the new one, under a key Dagster will not drop.
    assert result.run_config["ops"]["raw_inbound_events"]["config"]["files"] == ["a.jsonl", "b.jsonl"]
    assert result.run_key.endswith("-after-crashed-")
    assert sorted(json.loads(cursor)) == ["a.jsonl", "b.jsonl"]
    crashed = instance.get_run_by_id("crashed-run")
    assert crashed.status == DagsterRunStatus.FAILURE
    [failure] = instance.all_logs("crashed-run", of_type=DagsterEventType.RUN_FAILURE)
    assert f"its process {dead_pid} no longer exists" in failure.message


def test_a_run_whose_process_is_alive_still_holds_the_next_batch(tmp_path, instance):
    landing = tmp_path / "landing"
    started_run(instance, "running", os.getpid(), ["a.jsonl"])
    land(landing, "b.jsonl")

    result, _ = tick(instance, landing, '["a.jsonl"]')

    assert isinstance(result, SkipReason) and "wait for the run in progress" in result.skip_message
    assert instance.get_run_by_id("running").status == DagsterRunStatus.STARTED


def test_a_daemon_run_is_checked_by_the_pid_its_run_start_event_recorded(instance, dead_pid):
    """Daemon-launched runs carry no LeadOps tags: every Dagster event records its writer's pid."""
    run = instance.add_run(DagsterRun(job_name="process_leads", run_id="daemon-run"))
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job_name="process_leads", pid=dead_pid),
        run_id=run.run_id,
    )
    assert instance.get_run_by_id("daemon-run").status == DagsterRunStatus.STARTED

    context = build_sensor_context(instance=instance)
    assert not batch_in_flight(context)
    assert instance.get_run_by_id("daemon-run").status == DagsterRunStatus.FAILURE


def test_runs_whose_process_cannot_be_checked_are_left_alone(instance, dead_pid):
    instance.add_run(DagsterRun(job_name="process_leads", run_id="no-pid", status=DagsterRunStatus.STARTED))
    instance.add_run(
        DagsterRun(
            job_name="process_leads",
            run_id="elsewhere",
            status=DagsterRunStatus.STARTED,
            tags={PID_TAG: str(dead_pid), HOST_TAG: "another-host.invalid"},
        )
    )
    assert reclaim_dead_runs(instance) == []
    assert batch_in_flight(build_sensor_context(instance=instance))


def daemon_run(instance, run_id: str, pid: int, files: list[str], tags: dict[str, str] | None = None):
    """A run as the daemon's launcher starts it: its worker records RUN_START with its own pid."""
    run = instance.add_run(
        DagsterRun(
            job_name="process_leads",
            run_id=run_id,
            run_config={"ops": {"raw_inbound_events": {"config": {"files": files}}}},
            tags=tags or {},
        )
    )
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_START.value, job_name="process_leads", pid=pid), run_id=run.run_id
    )
    return instance.get_run_by_id(run_id)


def launcher_for(instance):
    from dagster_project.warm_launcher import WarmForkRunLauncher

    launcher = WarmForkRunLauncher()
    launcher.register_instance(instance)
    return launcher


def test_run_monitoring_fails_a_cold_started_run_whose_worker_died_and_its_files_go_to_the_next_batch(
    tmp_path, instance, dead_pid
):
    from dagster._core.launcher import WorkerStatus

    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    run = daemon_run(instance, "cold-run", dead_pid, ["a.jsonl"])

    health = launcher_for(instance).check_run_worker_health(run)

    assert health.status == WorkerStatus.FAILED
    assert f"run worker {dead_pid} no longer exists" in health.msg
    # What run monitoring does with a FAILED answer (max_resume_run_attempts: 0).
    instance.report_run_failed(instance.get_run_by_id("cold-run"), health.msg)
    land(landing, "b.jsonl")

    result, cursor = tick(instance, landing, '["a.jsonl"]')

    assert isinstance(result, RunRequest)
    assert result.run_config["ops"]["raw_inbound_events"]["config"]["files"] == ["a.jsonl", "b.jsonl"]
    assert result.run_key.endswith("-after-cold-run")
    # Handed back once: the next tick sees nothing new.
    again, _ = tick(instance, landing, cursor)
    assert isinstance(again, SkipReason)


def test_run_monitoring_leaves_live_workers_and_other_hosts_runs_alone(instance, dead_pid):
    from dagster._core.launcher import WorkerStatus

    from dagster_project.warm_launcher import WORKER_PID_TAG

    launcher = launcher_for(instance)
    forked = daemon_run(instance, "forked", os.getpid(), ["a.jsonl"], {WORKER_PID_TAG: str(os.getpid())})
    cold = daemon_run(instance, "cold", os.getpid(), ["b.jsonl"])
    elsewhere = daemon_run(instance, "elsewhere", dead_pid, ["c.jsonl"], {HOST_TAG: "another-host.invalid"})

    assert [launcher.check_run_worker_health(run).status for run in (forked, cold, elsewhere)] == [
        WorkerStatus.RUNNING
    ] * 3
    assert reclaim_dead_runs(instance) == []
