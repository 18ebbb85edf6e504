"""splink's Spark backend on the shared session.

Status: the saved person model runs on Spark but does not yet cluster as on DuckDB (5,428 generated
records: 90 DuckDB clusters and 45 Spark clusters differ). The model's SQL, saved from DuckDB, quotes
column names with double quotes, and splink parses each statement as Spark SQL, where "phone_l" is a
string: exact-match levels never fire. splink's Spark dialect also needs the pure-Python sqlglot (it
subclasses the generator, which sqlglotc compiles; dagster-dbt's sqlglot[rs] pulls sqlglotc from
sqlglot 30 on).

Comparisons, blocking rules and the trained model JSON are the same objects on both engines; only the
database API changes, so `Linker(sdf, model)` is built exactly as on DuckDB from a table this API
registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from splink import SparkAPI


def spark_splink_api(spark: SparkSession) -> SparkAPI:
    """A splink database API on `spark`, which must have been started with the similarity jar
    (session.start_session). Intermediate tables (blocked pairs, comparison vectors, predictions) are
    written as parquet under the session's checkpoint dir, which cuts their lineage: splink's default
    outside Databricks. They are repartitioned to the shuffle partition count (2 on local[2]) instead of
    splink's default of 200 files per table; on a cluster that count follows the executors' cores."""
    from splink import SparkAPI

    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    api = SparkAPI(
        spark_session=spark,
        break_lineage_method="parquet",
        num_partitions_on_repartition=partitions,
    )
    register_duckdb_jaro_winkler(spark)
    return api


def _jaro_winkler_similarity(left: pd.Series, right: pd.Series) -> pd.Series:
    from rapidfuzz.distance import JaroWinkler

    return pd.Series(
        [
            None if pd.isna(a) or pd.isna(b) else JaroWinkler.similarity(a, b)
            for a, b in zip(left, right, strict=True)
        ],
        dtype="float64",
    )


def register_duckdb_jaro_winkler(spark: SparkSession) -> None:
    """`jaro_winkler_similarity` on Spark with DuckDB's answers: the saved models were trained on DuckDB
    and their SQL names that function.

    The jar's `jaro_winkler` UDF is another implementation: deduping the same 5,428 generated records,
    63 landed in another cluster than on DuckDB, from scores that fall on the other side of the 0.92 and
    0.8 levels. DuckDB's function is rapidfuzz's Jaro-Winkler (prefix weight 0.1); rapidfuzz itself
    agreed with it on 3,000 of 3,000 name pairs. So Spark runs rapidfuzz too, as a vectorised (Arrow)
    UDF: slower per row than the jar's JVM function, and every executor needs rapidfuzz installed.
    """
    from pyspark.sql.functions import pandas_udf

    spark.udf.register("jaro_winkler_similarity", pandas_udf(_jaro_winkler_similarity, "double"))
