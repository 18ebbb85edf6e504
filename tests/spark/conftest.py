"""One local[2] Spark session per test run, shared by dbt (dbt-spark `method: session` picks up the running
session) and splink (SparkAPI). Starting the JVM costs 10-15 s, so it is started once, here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from dagster_project.settings import Settings
    from integrations.spark.session import SparkEngineConfig, start_session

    root = tmp_path_factory.mktemp("spark")
    engine = Settings.from_env(
        {"LEADOPS_ENGINE": "spark", "LEADOPS_HOME": str(root), "LEADOPS_SPARK_MASTER": "local[2]"}
    ).engine
    session = start_session(
        SparkEngineConfig(
            master=engine.spark_master,
            warehouse_dir=engine.spark_warehouse_dir,
            checkpoint_dir=engine.spark_checkpoint_dir,
        )
    )
    yield session
    session.stop()
