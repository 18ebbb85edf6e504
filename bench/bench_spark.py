"""DuckDB vs Apache Spark local[2] on the same work (a benchmark, not a test).

    python bench/bench_spark.py dbt [--warehouse PATH] [--seed N]   # dbt seeds + models, both engines
    python bench/bench_spark.py identity --records 20000            # splink person dedupe, both engines

`dbt`: a warehouse processed by the real job (tests/spark/make_warehouse.py; the demo unless --warehouse or
--seed) is the input; its Python-written tables are copied into Spark, then the dbt project's seeds and
models (no tests, no snapshots) are built cold on each engine in this process. `identity`: the saved person
model dedupes generated records through assets.identity.scoring.dedupe_people, once on DuckDB, once on
Spark (splink's SparkAPI), and the cluster counts are compared. Results are printed as JSON and appended to
bench/results/spark.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
RESULTS = REPO_ROOT / "bench" / "results" / "spark.jsonl"
MODELS_ONLY = [
    "build",
    "--exclude",
    "resource_type:snapshot",
    "resource_type:test",
    "resource_type:unit_test",
]


def _session(root: Path):
    from integrations.spark.session import SparkEngineConfig, start_session

    started = time.perf_counter()
    spark = start_session(
        SparkEngineConfig(warehouse_dir=root / "spark-warehouse", checkpoint_dir=root / "ck")
    )
    return spark, round(time.perf_counter() - started, 1)


def bench_dbt(args: argparse.Namespace, root: Path) -> dict:
    from integrations.spark.tables import copy_tables_to_spark
    from tests.spark.engines import duckdb_copy_without_dbt_schemas, run_dbt

    source = args.warehouse
    if source is None:
        home = root / "home"
        seed = [] if args.seed is None else ["--seed", str(args.seed)]
        subprocess.run(
            [sys.executable, "-m", "tests.spark.make_warehouse", str(home), *seed], cwd=REPO_ROOT, check=True
        )
        source = home / "warehouse.duckdb"
    import duckdb

    with duckdb.connect(str(source), read_only=True) as con:
        events = con.execute("select count(*) from raw.inbound_events").fetchone()[0]
    duckdb_path = duckdb_copy_without_dbt_schemas(source, root / "rebuilt.duckdb")
    started = time.perf_counter()
    on_duckdb = run_dbt(
        MODELS_ONLY, target="duckdb", target_path=root / "t-duckdb", warehouse_path=duckdb_path
    )
    duckdb_seconds = time.perf_counter() - started
    spark, session_seconds = _session(root)
    started = time.perf_counter()
    copy_tables_to_spark(source, spark)
    copy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    on_spark = run_dbt(MODELS_ONLY, target="spark", target_path=root / "t-spark")
    spark_seconds = time.perf_counter() - started
    spark.stop()
    return {
        "mode": "dbt",
        "inbound_events": events,
        "duckdb_build_s": round(duckdb_seconds, 1),
        "duckdb_ok": on_duckdb.success,
        "spark_session_start_s": session_seconds,
        "spark_copy_tables_s": round(copy_seconds, 1),
        "spark_build_s": round(spark_seconds, 1),
        "spark_ok": on_spark.success,
    }


def bench_identity(args: argparse.Namespace, root: Path) -> dict:
    import assets.identity.scoring as scoring
    from assets.identity.generator import GeneratorConfig, generate_identity_dataset
    from integrations.spark.splink_api import spark_splink_api

    people = max(1, int(args.records / 1.8))
    records = generate_identity_dataset(
        GeneratorConfig(n_people=people, n_accounts=max(1, people // 5), seed=99)
    ).people()
    started = time.perf_counter()
    _, on_duckdb = scoring.dedupe_people(records)
    duckdb_seconds = time.perf_counter() - started
    spark, session_seconds = _session(root)
    scoring._splink_session = lambda: nullcontext(spark_splink_api(spark))
    started = time.perf_counter()
    _, on_spark = scoring.dedupe_people(records)
    spark_seconds = time.perf_counter() - started
    spark.stop()
    merged = on_duckdb.merge(on_spark, on="record_id")
    return {
        "mode": "identity",
        "records": len(records),
        "duckdb_dedupe_s": round(duckdb_seconds, 1),
        "spark_session_start_s": session_seconds,
        "spark_dedupe_s": round(spark_seconds, 1),
        "clusters_duckdb": int(on_duckdb["cluster_id"].nunique()),
        "clusters_spark": int(on_spark["cluster_id"].nunique()),
        "records_in_another_cluster": int((merged["cluster_id_x"] != merged["cluster_id_y"]).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    dbt = modes.add_parser("dbt")
    dbt.add_argument("--warehouse", type=Path)
    dbt.add_argument("--seed", type=int)
    identity = modes.add_parser("identity")
    identity.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    with tempfile.TemporaryDirectory(prefix="leadops-bench-spark-") as tmp:
        result = (bench_dbt if args.mode == "dbt" else bench_identity)(args, Path(tmp))
    result |= {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
    }
    print(json.dumps(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
