"""The landing-zone sensor: one run per new batch, a run_key per batch, a SkipReason when nothing is new."""

from __future__ import annotations

import os

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from assets.ingest.resources import LandingZone
from sensors.new_leads import new_leads_sensor


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def tick(landing_dir, cursor=None, instance=None):
    """One sensor evaluation; a fresh ephemeral instance (no runs in flight) unless one is given."""
    if instance is None:
        with DagsterInstance.ephemeral() as ephemeral:
            return tick(landing_dir, cursor, ephemeral)
    context = build_sensor_context(
        cursor=cursor, instance=instance, resources={"landing": LandingZone(path=str(landing_dir))}
    )
    result = new_leads_sensor(context)
    return result, context.cursor


def land(landing_dir, name, text='{"event_id": "e1"}\n'):
    landing_dir.mkdir(parents=True, exist_ok=True)
    temporary = landing_dir / f"{name}.tmp"
    temporary.write_text(text)
    os.replace(temporary, landing_dir / name)


def test_nothing_landed_is_a_skip(tmp_path):
    result, _ = tick(tmp_path / "landing")
    assert isinstance(result, SkipReason)


def test_new_file_launches_one_run_for_exactly_that_file(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    result, cursor = tick(landing)
    assert isinstance(result, RunRequest)
    assert result.run_config["ops"]["raw_inbound_events"]["config"]["files"] == ["a.jsonl"]
    assert result.run_key

    repeat, _ = tick(landing, cursor)
    assert isinstance(repeat, SkipReason)


def test_only_files_not_yet_handed_over_go_into_the_next_run(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    _, cursor = tick(landing)
    land(landing, "b.jsonl")
    result, _ = tick(landing, cursor)
    assert result.run_config["ops"]["raw_inbound_events"]["config"]["files"] == ["b.jsonl"]


def test_files_still_being_written_are_ignored(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "partial.jsonl.tmp").write_text('{"event_id": ')
    result, _ = tick(landing)
    assert isinstance(result, SkipReason)


def test_same_batch_gets_the_same_run_key_so_a_repeat_is_dropped(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    first, _ = tick(landing)
    again, _ = tick(landing, None)  # e.g. the cursor was lost
    assert first.run_key == again.run_key


def test_cursor_forgets_archived_files(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    _, cursor = tick(landing)
    (landing / "a.jsonl").unlink()  # ingest archived it
    _, cursor = tick(landing, cursor)
    assert cursor == "[]"


def test_new_files_wait_while_a_run_is_in_flight_then_go_in_one_batch(tmp_path, instance):
    landing = tmp_path / "landing"
    land(landing, "a.jsonl")
    _, cursor = tick(landing, instance=instance)
    in_flight = instance.add_run(
        DagsterRun(job_name="process_leads", run_id="r1", status=DagsterRunStatus.STARTED)
    )
    land(landing, "b.jsonl")
    land(landing, "c.jsonl")
    waiting, cursor_while_waiting = tick(landing, cursor, instance)
    assert isinstance(waiting, SkipReason) and "wait" in waiting.skip_message
    assert cursor_while_waiting == cursor

    instance.delete_run(in_flight.run_id)  # the run is no longer in flight
    result, _ = tick(landing, cursor, instance)
    assert result.run_config["ops"]["raw_inbound_events"]["config"]["files"] == ["b.jsonl", "c.jsonl"]


def test_safety_net_schedule_runs_only_when_files_wait(tmp_path):
    from dagster import build_schedule_context

    from dagster_project.jobs import safety_net_schedule

    landing = tmp_path / "landing"
    resources = {"landing": LandingZone(path=str(landing))}
    with DagsterInstance.ephemeral() as ephemeral:
        idle = safety_net_schedule(build_schedule_context(instance=ephemeral, resources=resources))
        assert isinstance(idle, SkipReason)
        land(landing, "left-behind.jsonl")
        due = safety_net_schedule(build_schedule_context(instance=ephemeral, resources=resources))
    assert isinstance(due, RunRequest)
    assert due.run_config["ops"]["raw_inbound_events"]["config"]["files"] == []
