"""Copy the tables the Python stages write (landing, identity, enrichment, interpretation, CRM snapshot,
overrides, feedback, ops) from a DuckDB warehouse into Spark, under the same schema and table names, so
the dbt project reads the same sources on either engine.

The copy goes through Arrow: DuckDB hands a table out as Arrow and Spark takes Arrow in, with no row-by-row
Python in between (the demo's ~60 tables: a few seconds, most of it Spark's per-table write).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

# Schemas dbt builds itself (seeds, snapshots and models): never copied, dbt makes them on the engine.
DBT_SCHEMAS = frozenset({"staging", "intermediate", "marts", "rules", "snapshots", "main"})


def python_written_tables(duckdb_path: Path) -> list[tuple[str, str]]:
    """(schema, table) of every base table in the warehouse outside the schemas dbt builds."""
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
    return [(schema, table) for schema, table in rows if schema not in DBT_SCHEMAS]


def _as_spark_arrow(table: pa.Table) -> pa.Table:
    """DuckDB's naive timestamps become Spark `timestamp` (the type dbt's `type_timestamp` names on Spark)
    instead of `timestamp_ntz`: a UTC zone on the Arrow column, which the session's UTC zone reads back as
    the same wall-clock value. Comparing an ntz column with a timestamp one otherwise casts through the
    session zone on every row."""
    import pyarrow as pa

    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.tz is None:
            kind = pa.timestamp("us", tz="UTC")
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz=kind.tz)
        fields.append(pa.field(field.name, kind, field.nullable))
    return table.cast(pa.schema(fields))


def copy_tables_to_spark(
    duckdb_path: Path, spark: SparkSession, tables: Iterable[tuple[str, str]] | None = None
) -> list[str]:
    """Replace each (schema, table) in Spark with the DuckDB table's rows; return the names copied."""
    import duckdb

    chosen = list(python_written_tables(duckdb_path) if tables is None else tables)
    copied = []
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for schema, table in chosen:
            spark.sql(f"create database if not exists {schema}")
            arrow = _as_spark_arrow(con.sql(f'select * from "{schema}"."{table}"').to_arrow_table())
            frame = spark.createDataFrame(arrow)
            frame.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{table}")
            copied.append(f"{schema}.{table}")
    return copied
