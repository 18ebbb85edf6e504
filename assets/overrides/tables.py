"""The warehouse side of overrides: `raw.operator_overrides` and `raw.rejected_overrides`, replaced whole
from the file on every run (the file is small: one line per human decision)."""

from __future__ import annotations

import duckdb
import pandas as pd

from integrations.overrides_file.contract import ParsedOverrides

# Both tables exist even with no overrides file, so the dbt source always resolves on an empty warehouse.
ENSURE_OVERRIDES_TABLES_DDL = """
create schema if not exists raw;
create table if not exists raw.operator_overrides (
    override_id varchar not null,
    created_at timestamp not null,
    actor varchar not null,
    scope varchar not null,
    target_id varchar,
    action varchar not null,
    value varchar,
    reason varchar not null,
    line_number integer not null
);
create table if not exists raw.rejected_overrides (
    line_number integer not null,
    reason varchar not null,
    raw_text varchar not null
);
"""

OPERATOR_OVERRIDES_COLUMNS = (
    "override_id",
    "created_at",
    "actor",
    "scope",
    "target_id",
    "action",
    "value",
    "reason",
    "line_number",
)
REJECTED_OVERRIDES_COLUMNS = ("line_number", "reason", "raw_text")


def overrides_frames(parsed: ParsedOverrides) -> tuple[pd.DataFrame, pd.DataFrame]:
    accepted = pd.DataFrame(
        [
            {
                "override_id": override.override_id,
                "created_at": override.created_at,
                "actor": override.actor,
                "scope": override.scope.value,
                "target_id": override.target_id,
                "action": override.action.value,
                "value": override.value,
                "reason": override.reason,
                "line_number": line_number,
            }
            for line_number, override in parsed.accepted
        ],
        columns=list(OPERATOR_OVERRIDES_COLUMNS),
    )
    rejected = pd.DataFrame(
        [(line.line_number, line.reason, line.raw_text) for line in parsed.rejected],
        columns=list(REJECTED_OVERRIDES_COLUMNS),
    )
    return accepted, rejected


def replace_override_tables(con: duckdb.DuckDBPyConnection, parsed: ParsedOverrides) -> None:
    """Swap both tables' rows in one transaction: dbt never sees a half-loaded set of overrides."""
    accepted, rejected = overrides_frames(parsed)
    con.execute("begin transaction")
    try:
        con.execute(ENSURE_OVERRIDES_TABLES_DDL)
        con.execute("delete from raw.operator_overrides")
        con.execute("delete from raw.rejected_overrides")
        for table, frame, columns in (
            ("raw.operator_overrides", accepted, OPERATOR_OVERRIDES_COLUMNS),
            ("raw.rejected_overrides", rejected, REJECTED_OVERRIDES_COLUMNS),
        ):
            if frame.empty:
                continue
            con.register("_overrides_frame", frame)
            try:
                column_list = ", ".join(columns)
                con.execute(f"insert into {table} ({column_list}) select {column_list} from _overrides_frame")
            finally:
                con.unregister("_overrides_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
