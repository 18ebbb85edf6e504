"""The operator_overrides asset: the whole file into raw tables every run, bad lines visible, none lost."""

from __future__ import annotations

import duckdb
import pytest
from dagster import DagsterInstance, materialize
from dagster_duckdb import DuckDBResource

from assets.overrides.assets import (
    ALL_LINES_VALID_CHECK,
    CONTENT_SHA256_METADATA,
    OPERATOR_OVERRIDES_KEY,
    operator_overrides,
)
from assets.overrides.resources import InMemoryOverrides, OverridesFile
from assets.overrides.tables import ENSURE_OVERRIDES_TABLES_DDL
from integrations.overrides_file.contract import HEADER_LINE
from integrations.overrides_file.store import read_snapshot

VALID_AND_BROKEN = "\n".join(
    [
        HEADER_LINE,
        "ovr_a,2026-03-01T09:00:00Z,ann,lead,lead_1,reroute_owner,own_7,asked for Ann",
        "ovr_b,2026-03-01T09:05:00Z,ann,lead,lead_1,reclassify_intent,Pricing,read the message",
        "",
        "ovr_c,2026-03-01T09:10:00Z,bob,global,,pause_automation,,incident",
        "ovr_d,2026-03-01T09:20:00Z,bob,lead,lead_2,reroute_owner,own_1",
        "ovr_e,2026-03-01T09:30:00Z,bob,lead,lead_1,revoke,ovr_a,wrong owner",
        "ovr_f,2026-03-01T09:40:00Z,bob,lead,lead_1,correct_field,mood=happy,typo",
    ]
)


def run(tmp_path, overrides_source, instance=None):
    warehouse = tmp_path / "warehouse.duckdb"
    result = materialize(
        [operator_overrides],
        resources={"warehouse": DuckDBResource(database=str(warehouse)), "overrides_file": overrides_source},
        instance=instance,
        raise_on_error=False,
    )
    return result, warehouse


def test_valid_rows_are_loaded_typed_and_bad_lines_are_rejected_with_reasons(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text(VALID_AND_BROKEN + "\n")
    result, warehouse = run(tmp_path, OverridesFile(path=str(path)))
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "select override_id, action, value, line_number, typeof(created_at) from raw.operator_overrides"
            " order by line_number"
        ).fetchall()
        rejected = con.execute("select line_number, reason, raw_text from raw.rejected_overrides").fetchall()
    assert loaded == [
        ("ovr_a", "reroute_owner", "own_7", 2, "TIMESTAMP"),
        ("ovr_b", "reclassify_intent", "pricing", 3, "TIMESTAMP"),
        ("ovr_c", "pause_automation", None, 5, "TIMESTAMP"),
        ("ovr_e", "revoke", "ovr_a", 7, "TIMESTAMP"),
    ]
    assert [(line, raw.split(",")[0]) for line, _, raw in rejected] == [(6, "ovr_d"), (8, "ovr_f")]
    assert "expected 8" in rejected[0][1] and "cannot be corrected" in rejected[1][1]

    materialization = result.asset_materializations_for_node("operator_overrides")[0]
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["overrides"] == 4 and metadata["rejected"] == 2 and metadata["revoked"] == 1
    assert metadata["action_reroute_owner"] == 1 and metadata["action_unmerge"] == 0
    assert metadata[CONTENT_SHA256_METADATA] == read_snapshot(path).content_sha256
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == ALL_LINES_VALID_CHECK and not check.passed


def test_a_missing_file_means_no_overrides_and_still_creates_both_tables(tmp_path):
    result, warehouse = run(tmp_path, OverridesFile(path=str(tmp_path / "nothing" / "overrides.csv")))
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.operator_overrides").fetchone() == (0,)
        assert con.execute("select count(*) from raw.rejected_overrides").fetchone() == (0,)
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    assert not (tmp_path / "nothing").exists()


def test_each_run_replaces_the_rows_so_a_deleted_line_is_gone(tmp_path):
    first = InMemoryOverrides(content=VALID_AND_BROKEN)
    run(tmp_path, first)
    only_row = "ovr_z,2026-03-01T09:00:00Z,ann,lead,l9,disqualify,,spam"
    second = InMemoryOverrides(content=f"{HEADER_LINE}\n{only_row}\n")
    result, warehouse = run(tmp_path, second)
    assert result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select override_id from raw.operator_overrides").fetchall() == [("ovr_z",)]
        assert con.execute("select count(*) from raw.rejected_overrides").fetchone() == (0,)


def test_a_changed_header_fails_the_run_and_keeps_the_previous_overrides(tmp_path):
    run(tmp_path, InMemoryOverrides(content=VALID_AND_BROKEN))
    result, warehouse = run(tmp_path, InMemoryOverrides(content="id,when\nx,y\n"))
    assert not result.success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.operator_overrides").fetchone() == (4,)


def test_the_ddl_builds_both_tables_on_an_empty_warehouse_and_is_idempotent():
    with duckdb.connect() as con:
        con.execute(ENSURE_OVERRIDES_TABLES_DDL)
        con.execute(ENSURE_OVERRIDES_TABLES_DDL)
        columns = con.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'raw' order by table_name, ordinal_position"
        ).fetchall()
    assert ("operator_overrides", "created_at", "TIMESTAMP") in columns
    assert ("operator_overrides", "line_number", "INTEGER") in columns
    assert [c for t, c, _ in columns if t == "rejected_overrides"] == ["line_number", "reason", "raw_text"]


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def test_the_materialization_records_the_content_hash_in_the_instance(tmp_path, instance):
    source = InMemoryOverrides(content=VALID_AND_BROKEN)
    run(tmp_path, source, instance=instance)
    entry = instance.get_latest_materialization_event(OPERATOR_OVERRIDES_KEY)
    recorded = entry.asset_materialization.metadata[CONTENT_SHA256_METADATA].value
    assert recorded == source.read_snapshot().content_sha256
