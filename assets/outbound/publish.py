"""Publishes a read-only copy of the warehouse after each run.

DuckDB lets one process hold a database file, and even a reader that opens it for milliseconds breaks a
concurrent `dbt build`. So the CLI and other readers never open the live file: they read this copy,
swapped in atomically (copy to a temporary name, then rename) once the run's writes are done.
"""

import os
import shutil
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from common.warehouse_files import reader_copy_of

READER_COPY_KEY = AssetKey("warehouse_reader_copy")


def publish_reader_copy(warehouse_path: Path, reader_path: Path) -> int:
    """Copy a checkpointed warehouse file next to itself under the readers' name; returns its size."""
    temporary = reader_path.with_suffix(reader_path.suffix + ".tmp")
    shutil.copyfile(warehouse_path, temporary)
    os.replace(temporary, reader_path)
    return reader_path.stat().st_size


@asset(
    key=READER_COPY_KEY,
    deps=[
        AssetKey(["ops", "crm_writes"]),
        AssetKey(["ops", "outbox_delivery"]),
        AssetKey(["ops", "lead_state_log"]),
    ],
    group_name="outbound",
    kinds={"duckdb"},
    description=(
        "Read-only copy of the warehouse for `leadops events|decisions|explain`, published after the run."
    ),
)
def warehouse_reader_copy(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
    with warehouse.get_connection() as con:
        # Folds the write-ahead log into the file so a byte copy is a complete database.
        con.execute("checkpoint")
    reader_path = reader_copy_of(Path(warehouse.database))
    size = publish_reader_copy(Path(warehouse.database), reader_path)
    return MaterializeResult(metadata={"bytes": size, "path": str(reader_path)})
