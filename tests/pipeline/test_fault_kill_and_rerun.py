"""kill -9 of `leadops run` at three points of a batch, then a rerun with `leadops run`: no landed event is
lost and no CRM record is duplicated.

The points are found from outside, the way an operator's crash would hit them: the test watches the run's
Dagster event log (and the CRM) and SIGKILLs the whole process group the moment the point is reached, then
checks from the event log and the CRM that the kill landed where it was meant to, so a kill that came too
late fails the test instead of testing another point.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from pipeline_helpers import REPO_ROOT, crm_records, duplicated_crm_records, event

pytestmark = [pytest.mark.system, pytest.mark.slow]

LEADOPS = Path(sys.executable).parent / "leadops"
LEADS = 30
# Definitions load, then the job: about a minute on idle cores, several under load.
RUN_SECONDS = 480

# point → (the step whose start is the signal, or None for the CRM signal; what the kill must have left)
POINTS = {
    # Ingest and identity committed, the dbt prepare step running: no decision exists yet.
    "during_dbt_before_decisions": "leadops_dbt_models",
    # Decisions built by dbt, the state log being written: nothing sent to the CRM yet.
    "after_decisions_before_outbound": "ops__lead_state_log",
    # Some of the batch's leads in the CRM, the rest not yet.
    "mid_outbound": None,
}


def batch() -> list:
    """LEADS distinct people on company domains, one broken line and one redelivery."""
    events = [
        event(f"evt-f-{i:02d}", email=f"lead{i:02d}@fault{i % 6}-example.com", company=f"Fault {i % 6}")
        for i in range(LEADS)
    ]
    return [*events, '{"event_id": "evt-f-broken", "source": ', dict(events[0])]


def crm_lead_count(crm_path: Path) -> int:
    with sqlite3.connect(f"file:{crm_path}?mode=ro", uri=True) as con:
        return con.execute("select count(*) from records where object_type = 'lead'").fetchone()[0]


def leadops_run(log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(LEADOPS), "run"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def steps(instance: DagsterInstance, run_id: str, kind: DagsterEventType) -> set[str]:
    return {entry.step_key for entry in instance.all_logs(run_id, of_type=kind) if entry.step_key}


def kill_at(point: str, process: subprocess.Popen, instance: DagsterInstance, crm_path: Path, log_path: Path):
    """SIGKILL the run's process group as soon as `point` is reached; the killed run's id."""
    step = POINTS[point]
    crm_before = crm_lead_count(crm_path)
    deadline = time.monotonic() + RUN_SECONDS
    run_id = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`leadops run` ended before {point}:\n{log_path.read_text()[-3000:]}")
        if run_id is None:  # the CLI creates the run after loading the definitions
            runs = instance.get_runs(RunsFilter(job_name="process_leads", tags={"leadops/trigger": "cli"}))
            run_id = runs[0].run_id if runs else None
        if run_id is None:
            time.sleep(0.1)
            continue
        reached = (
            step in steps(instance, run_id, DagsterEventType.STEP_START)
            if step is not None
            else crm_lead_count(crm_path) > crm_before
        )
        if reached:
            break
        time.sleep(0.01 if step is None else 0.1)
    else:
        pytest.fail(f"{point} was not reached in {RUN_SECONDS} s:\n{log_path.read_text()[-3000:]}")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return run_id


def assert_killed_at(point: str, instance: DagsterInstance, run_id: str, crm_path: Path, crm_before: int):
    started = steps(instance, run_id, DagsterEventType.STEP_START)
    succeeded = steps(instance, run_id, DagsterEventType.STEP_SUCCESS)
    in_crm = crm_lead_count(crm_path) - crm_before
    assert "raw_inbound_events" in succeeded and "lead_identities" in succeeded, succeeded
    if point == "during_dbt_before_decisions":
        assert "leadops_dbt_decisions" not in started, started
    elif point == "after_decisions_before_outbound":
        assert "leadops_dbt_decisions" in succeeded and "ops__crm_writes" not in started, started
        assert in_crm == 0
    else:
        assert "ops__crm_writes" not in succeeded
        assert 0 < in_crm < LEADS, (
            f"the kill was meant to land mid-outbound; {in_crm} of {LEADS} leads written"
        )
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED, "SIGKILL records no end"


@pytest.mark.parametrize("point", list(POINTS))
def test_a_kill_at_any_point_then_a_rerun_loses_no_event_and_duplicates_no_crm_record(
    point, pipeline, prepared_warehouse, tmp_path
):
    prepared_warehouse.publish_parse_state()
    instance = DagsterInstance.get()
    crm_path = pipeline.settings.crm_path
    crm_before = crm_lead_count(crm_path)
    lines = batch()
    pipeline.land(lines, "fault-batch.jsonl")

    killed_run = kill_at(
        point, leadops_run(tmp_path / "killed.log"), instance, crm_path, tmp_path / "killed.log"
    )
    assert_killed_at(point, instance, killed_run, crm_path, crm_before)

    rerun = subprocess.run(
        [str(LEADOPS), "run"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    # The rerun found the killed run's process gone and said so.
    assert f"run {killed_run} failed" in rerun.stderr, rerun.stderr[-3000:]
    assert instance.get_run_by_id(killed_run).status == DagsterRunStatus.FAILURE

    # Every landed line is in exactly one place, and nothing waits in the landing zone.
    deliveries = pipeline.read("select file_name, line_number, status, event_id from raw.event_deliveries")
    assert len(deliveries) == len(lines)
    assert len({(file_name, line) for file_name, line, _, _ in deliveries}) == len(lines)
    assert Counter(status for _, _, status, _ in deliveries) == {
        "accepted": LEADS,
        "quarantined": 1,
        "duplicate_delivery": 1,
    }
    assert not list(pipeline.settings.landing_dir.glob("*.jsonl"))
    accepted = {event_id for _, _, status, event_id in deliveries if status == "accepted"}
    decided = pipeline.read(
        "select le.event_id, d.lead_id, d.email from marts.lead_events le"
        " join marts.lead_decisions d on d.lead_id = le.lead_id where le.event_id like 'evt-f-%'"
    )
    assert {event_id for event_id, _, _ in decided} == accepted

    # Each lead is in the CRM once, with one copy of each task and note.
    leads = [fields for fields in crm_records(crm_path, "lead") if "fault" in str(fields.get("email", ""))]
    assert len(leads) == LEADS
    assert duplicated_crm_records(crm_path) == []
    transitions = pipeline.read(
        "select lead_id, from_state, to_state, count(*) from ops.lead_state_log"
        " group by all having count(*) > 1"
    )
    assert transitions == [], transitions
