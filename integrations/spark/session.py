"""The Spark session LeadOps runs dbt and splink in.

dbt-spark's `session` method calls `SparkSession.builder.enableHiveSupport().getOrCreate()` for every
statement, which hands back the session already running in the process; so whoever starts the engine
starts it here first, with the settings below, and dbt and splink then share it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class SparkEngineConfig:
    """Where the session runs and where it keeps tables.

    `master` is `local[N]` on one machine; on a cluster it is the cluster manager's URL (`yarn`,
    `k8s://…`, `spark://host:7077`) or the session comes from Spark Connect instead. `shuffle_partitions`
    is sized to the cores: Spark's default of 200 made every join of the demo data 200 tiny tasks, about a
    tenth of a second each on two cores.
    """

    warehouse_dir: Path
    checkpoint_dir: Path
    master: str = "local[2]"
    shuffle_partitions: int = 2
    driver_memory: str = "2g"
    # Spark 4 runs ANSI SQL by default (a bad cast raises instead of giving NULL); the models are written
    # for it (try_cast where input may be bad), and a cluster on Spark 4 runs the same mode.
    ansi: bool = True
    extra: tuple[tuple[str, str], ...] = ()


def similarity_jar() -> str:
    """The Scala UDF jar that ships inside the splink wheel (jaro_winkler, jaro_sim, ...), for Spark 4.

    It has to be on `spark.jars` before the JVM starts: splink registers the functions from it and
    fails on a session started without it.
    """
    from splink.backends.spark import similarity_jar_location

    return similarity_jar_location()


def session_settings(config: SparkEngineConfig) -> dict[str, str]:
    settings = {
        "spark.master": config.master,
        "spark.app.name": "leadops",
        "spark.jars": similarity_jar(),
        "spark.sql.warehouse.dir": str(config.warehouse_dir),
        # The catalog lives in the session (no Derby metastore files in the working folder); tables are
        # parquet files under the warehouse dir. A cluster points this at its Hive metastore or Unity
        # catalog instead.
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(config.shuffle_partitions),
        "spark.sql.ansi.enabled": str(config.ansi).lower(),
        # Timestamps in the warehouse are naive UTC, as on DuckDB.
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": config.driver_memory,
        # Nothing listens beyond this machine: no UI, the driver bound to loopback.
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Python workers (splink's Jaro-Winkler UDF) run this interpreter, with its packages.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    settings.update(dict(config.extra))
    return settings


def start_session(config: SparkEngineConfig) -> SparkSession:
    """Start (or return the running) session with the jar, the warehouse and the checkpoint dir set."""
    from pyspark.sql import SparkSession

    # pyspark starts its Python workers from PYSPARK_PYTHON ("python3" on the PATH when unset, which has
    # none of this environment's packages), whatever spark.pyspark.python says.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    config.warehouse_dir.mkdir(parents=True, exist_ok=True)
    config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in session_settings(config).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # splink checkpoints its intermediate tables (the blocked pairs, the predictions) here to cut lineage.
    spark.sparkContext.setCheckpointDir(str(config.checkpoint_dir))
    return spark
