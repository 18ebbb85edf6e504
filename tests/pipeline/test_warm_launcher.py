"""The warm run launcher (dagster_project/warm_launcher.py) under the daemon: a killed run worker fails its
run visibly, the next file is still processed by a forked worker, and a rerun of the killed run writes
each lead to the CRM once."""

from __future__ import annotations

import os
import signal

import pytest
from dagster import DagsterInstance, DagsterRunStatus, ReexecutionOptions, execute_job, reconstructable
from pipeline_helpers import event, start_daemon, stop_daemon, wait_for

# `slow` too: `make test-fast` deselects slow tests only. A longer timeout than the suite's 600 s: the
# daemon's first run starts cold, and on loaded cores one took over 5 minutes.
pytestmark = [pytest.mark.system, pytest.mark.slow, pytest.mark.timeout(1800)]

# The warm process imports the definitions, GX, splink, sklearn and parses dbt: 20–30 s on idle cores,
# over two minutes on loaded ones; runs landed before it is ready start cold.
WAIT_SECONDS = 420


def process_leads_job():
    # Built from the settings the environment holds now (this test's home), not the module-level `defs`,
    # which the test session imported earlier with its own throw-away home.
    from dagster_project.definitions import build_definitions
    from dagster_project.settings import current_settings

    return build_definitions(current_settings()).resolve_job_def("process_leads")


def test_killed_warm_worker_fails_its_run_and_the_next_file_is_processed(
    pipeline, prepared_warehouse, tmp_path
):
    from dagster_project.warm_launcher import LAUNCHER_TAG, WORKER_PID_TAG

    prepared_warehouse.publish_parse_state()
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(log_path, LEADOPS_SENSOR_INTERVAL_SECONDS="1")
    instance = DagsterInstance.get()
    try:

        def process_leads_runs():
            return [r for r in instance.get_runs() if r.job_name == "process_leads"]

        def finished(run_id: str):
            run = instance.get_run_by_id(run_id)
            return run if run.is_finished else None

        # A first lead until a run is forked from the warm process (earlier ones may start cold).
        index = 0
        while True:
            pipeline.land([event(f"evt-w-{index}", email=f"lead{index}@warm-example.com")], f"w{index}.jsonl")
            run = wait_for(
                lambda: next((r for r in process_leads_runs() if r.status == DagsterRunStatus.STARTED), None),
                "a started run",
                log_path,
                WAIT_SECONDS,
            )
            if run.tags.get(LAUNCHER_TAG) == "warm-fork":
                break
            wait_for(
                lambda run_id=run.run_id: finished(run_id), "the cold run to finish", log_path, WAIT_SECONDS
            )
            index += 1

        os.kill(int(run.tags[WORKER_PID_TAG]), signal.SIGKILL)
        killed = wait_for(lambda: finished(run.run_id), "the killed run to be marked failed", log_path, 60)
        assert killed.status == DagsterRunStatus.FAILURE

        pipeline.land([event("evt-w-next", email="next@warm-example.com")], "w-next.jsonl")
        next_run = wait_for(
            lambda: next(
                (
                    r
                    for r in process_leads_runs()
                    if r.run_id != run.run_id and "w-next.jsonl" in str(r.run_config) and r.is_finished
                ),
                None,
            ),
            "the next file's run",
            log_path,
            WAIT_SECONDS,
        )
        assert next_run.status == DagsterRunStatus.SUCCESS
        assert next_run.tags.get(LAUNCHER_TAG) == "warm-fork"
    finally:
        stop_daemon(daemon)

    rerun = execute_job(
        reconstructable(process_leads_job),
        instance=instance,
        reexecution_options=ReexecutionOptions.from_failure(run.run_id, instance),
    )
    assert rerun.success
    written = pipeline.read(
        "select w.lead_id, count(*) from ops.crm_writes w join marts.lead_events le on le.lead_id = w.lead_id"
        " where w.operation = 'upsert_lead' and w.status = 'written' and le.event_id like 'evt-w-%'"
        " group by 1"
    )
    assert written and all(count == 1 for _, count in written), written
