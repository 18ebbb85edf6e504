"""The overrides sensor: a changed file requests one process_leads run; unchanged or already loaded, none."""

from __future__ import annotations

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from assets.overrides.assets import CONTENT_SHA256_METADATA, OPERATOR_OVERRIDES_KEY
from assets.overrides.resources import OverridesFile
from integrations.overrides_file.contract import HEADER_LINE
from integrations.overrides_file.store import read_snapshot
from sensors.overrides_changed import PROCESS_LEADS_JOB_NAME, overrides_changed_sensor

ROW = "ovr_a,2026-03-01T09:00:00Z,ann,lead,lead_1,disqualify,,spam\n"


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def tick(path, instance, cursor=None):
    context = build_sensor_context(
        cursor=cursor, instance=instance, resources={"overrides_file": OverridesFile(path=str(path))}
    )
    return overrides_changed_sensor(context), context.cursor


def record_load(instance, path):
    digest = read_snapshot(path).content_sha256
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=OPERATOR_OVERRIDES_KEY, metadata={CONTENT_SHA256_METADATA: digest})
    )


def test_a_new_override_requests_one_run_and_a_repeat_tick_skips(tmp_path, instance):
    path = tmp_path / "overrides.csv"
    path.write_text(HEADER_LINE + "\n" + ROW)
    result, cursor = tick(path, instance)
    assert isinstance(result, RunRequest) and result.run_key.startswith("overrides-")
    assert cursor == read_snapshot(path).content_sha256
    repeat, _ = tick(path, instance, cursor)
    assert isinstance(repeat, SkipReason)


def test_no_file_and_nothing_loaded_yet_requests_nothing_once_loaded(tmp_path, instance):
    path = tmp_path / "missing.csv"
    record_load(instance, path)
    result, cursor = tick(path, instance)
    assert isinstance(result, SkipReason) and "already loaded" in result.skip_message
    assert cursor == read_snapshot(path).content_sha256


def test_content_a_run_already_loaded_costs_no_second_run(tmp_path, instance):
    path = tmp_path / "overrides.csv"
    path.write_text(HEADER_LINE + "\n" + ROW)
    record_load(instance, path)
    result, _ = tick(path, instance, cursor="an-older-hash")
    assert isinstance(result, SkipReason)


def test_a_change_waits_while_a_run_is_in_flight_then_requests(tmp_path, instance):
    path = tmp_path / "overrides.csv"
    path.write_text(HEADER_LINE + "\n" + ROW)
    run = instance.add_run(
        DagsterRun(job_name=PROCESS_LEADS_JOB_NAME, run_id="r" * 8, status=DagsterRunStatus.STARTED)
    )
    waiting, cursor = tick(path, instance)
    assert isinstance(waiting, SkipReason) and cursor is None
    instance.report_run_failed(run)  # the run ends
    result, _ = tick(path, instance, cursor)
    assert isinstance(result, RunRequest)


def test_restoring_earlier_content_gets_a_new_run_key(tmp_path, instance):
    path = tmp_path / "overrides.csv"
    first_content = HEADER_LINE + "\n" + ROW
    path.write_text(first_content)
    first, cursor = tick(path, instance)
    record_load(instance, path)
    path.write_text(first_content + ROW.replace("ovr_a", "ovr_b").replace("lead_1", "lead_2"))
    _, cursor = tick(path, instance, cursor)
    record_load(instance, path)
    path.write_text(first_content)
    again, _ = tick(path, instance, cursor)
    assert isinstance(again, RunRequest) and again.run_key != first.run_key


def test_sensor_and_asset_load_beside_a_process_leads_job(tmp_path):
    from dagster import AssetSelection, Definitions, define_asset_job
    from dagster_duckdb import DuckDBResource

    from assets.overrides.assets import operator_overrides

    defs = Definitions(
        assets=[operator_overrides],
        jobs=[define_asset_job(PROCESS_LEADS_JOB_NAME, selection=AssetSelection.groups("ingest"))],
        sensors=[overrides_changed_sensor],
        resources={
            "warehouse": DuckDBResource(database=str(tmp_path / "w.duckdb")),
            "overrides_file": OverridesFile(path=str(tmp_path / "overrides.csv")),
        },
    )
    Definitions.validate_loadable(defs)
    assert defs.resolve_sensor_def("overrides_changed_sensor").job_name == PROCESS_LEADS_JOB_NAME
