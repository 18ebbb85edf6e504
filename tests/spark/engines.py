"""Run the one dbt project on DuckDB and on Spark from the same Python-written tables, and read marts back
from both as rows that compare equal when the engines agree.

dbt runs in this process (dbtRunner) on both engines, so the Spark build uses the test run's one
SparkSession: dbt-spark's `session` method picks up the running session.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from dagster_project.settings import DBT_PROJECT_DIR

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"
# Both builds stamp decisions with this time instead of the clock (macro decision_time).
DECISION_TIME_VARS = ["--vars", "{leadops_decision_time: '2026-12-01 09:00:00'}"]
# Floats are compared to this many significant digits: sums and percentiles add in a different order per
# engine (a p95 of 32,716,314.8 s came back as 32716314.799999997 from Spark).
FLOAT_DIGITS = 12


def mart_names() -> list[str]:
    return sorted(path.stem for path in MARTS_DIR.rglob("*.sql"))


@dataclass(frozen=True)
class DbtRun:
    success: bool
    failures: list[str]


def run_dbt(args: list[str], *, target: str, target_path: Path, warehouse_path: Path | None = None) -> DbtRun:
    """One in-process dbt invocation; `warehouse_path` is the DuckDB file (the duckdb target's profile
    reads it from LEADOPS_WAREHOUSE_PATH, which the spark target ignores)."""
    from dbt.cli.main import dbtRunner

    os.environ["LEADOPS_WAREHOUSE_PATH"] = str(warehouse_path or target_path / "unused.duckdb")
    result = dbtRunner().invoke(
        [
            *args,
            "--target",
            target,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target_path),
            "--log-path",
            str(target_path / "logs"),
            "--quiet",
        ]
    )
    failures = []
    if result.result is not None and hasattr(result.result, "results"):
        failures = [
            f"{node.node.unique_id}: {node.status}: {(node.message or '')[:500]}"
            for node in result.result.results
            if str(node.status) in {"error", "fail"}
        ]
    if result.exception is not None:
        failures.append(repr(result.exception))
    return DbtRun(success=bool(result.success), failures=failures)


def duckdb_copy_without_dbt_schemas(source: Path, destination: Path) -> Path:
    """A copy of a warehouse with only the tables the Python stages wrote, for a cold dbt build."""
    from integrations.spark.tables import DBT_SCHEMAS

    shutil.copyfile(source, destination)
    with duckdb.connect(str(destination)) as con:
        for schema in DBT_SCHEMAS - {"main"}:
            con.execute(f"drop schema if exists {schema} cascade")
    return destination


def _normal(value: object) -> object:
    """One comparable value per cell: engines hand back the same fact as different Python types."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | float):
        return float(f"{float(value):.{FLOAT_DIGITS}g}") + 0.0
    if hasattr(value, "item"):
        return _normal(value.item())
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return tuple(_normal(item) for item in list(value))
    return value


def normal_rows(columns: list[str], rows: Iterable[tuple]) -> tuple[list[str], list[tuple]]:
    """Columns by name and rows in one order, every value normalised."""
    order = sorted(range(len(columns)), key=columns.__getitem__)
    normal = [tuple(_normal(row[index]) for index in order) for row in rows]
    return [columns[index] for index in order], sorted(
        normal, key=lambda row: tuple((value is None, str(value)) for value in row)
    )


def readable_copy(warehouse: Path, destination: Path) -> Path:
    """A copy to read from: dbt-duckdb keeps its connection to the file open in this process after the
    build, and DuckDB refuses a second connection with another configuration. The write-ahead log goes
    along, so rows not yet checkpointed are there too."""
    shutil.copyfile(warehouse, destination)
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, destination.with_name(destination.name + ".wal"))
    return destination


def duckdb_mart(warehouse: Path, name: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(warehouse)) as con:
        cursor = con.execute(f"select * from marts.{name}")
        columns = [column[0] for column in cursor.description]
        return normal_rows(columns, cursor.fetchall())


def spark_mart(spark, name: str) -> tuple[list[str], list[tuple]]:
    """Rows as Python values (collect(), not pandas: a date stays a date). Timestamps come back in the
    Python process's zone; the warehouse and these machines are UTC."""
    frame = spark.table(f"marts.{name}")
    return normal_rows(frame.columns, [tuple(row) for row in frame.collect()])
