"""LEADOPS_ENGINE picks the engine for dbt and identity together (pure: no JVM is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.settings import Settings, SettingsError
from integrations.spark.session import SparkEngineConfig, session_settings


def test_duckdb_is_the_engine_unless_spark_is_chosen(tmp_path: Path) -> None:
    assert Settings.from_env({"LEADOPS_HOME": str(tmp_path)}).engine.dbt_target == "duckdb"
    engine = Settings.from_env({"LEADOPS_HOME": str(tmp_path), "LEADOPS_ENGINE": "spark"}).engine
    assert engine.dbt_target == "spark"
    assert engine.spark_master == "local[2]"
    assert engine.spark_warehouse_dir == tmp_path / "spark" / "warehouse"


def test_an_unknown_engine_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="LEADOPS_ENGINE must be one of duckdb, spark"):
        Settings.from_env({"LEADOPS_ENGINE": "trino"})


def test_the_session_carries_the_splink_jar_and_stays_on_this_machine(tmp_path: Path) -> None:
    settings = session_settings(
        SparkEngineConfig(warehouse_dir=tmp_path / "w", checkpoint_dir=tmp_path / "c")
    )
    assert settings["spark.jars"].endswith("_spark4.x.jar") and Path(settings["spark.jars"]).is_file()
    assert settings["spark.ui.enabled"] == "false"
    assert settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert settings["spark.sql.session.timeZone"] == "UTC"
