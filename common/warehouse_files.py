"""Where the files around one warehouse live, for the writer that publishes them and the readers."""

from __future__ import annotations

from pathlib import Path


def reader_copy_of(warehouse_path: Path) -> Path:
    """The read-only copy of a warehouse file, published beside it after each successful run."""
    return warehouse_path.with_name(f"{warehouse_path.stem}.readonly.duckdb")
