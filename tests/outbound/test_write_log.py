"""The latest send of each lead's CRM operations, the one query the run summary counts."""

from __future__ import annotations

from datetime import datetime

import duckdb

from assets.outbound.crm_sync import OUTBOX_DDL
from assets.outbound.write_log import latest_write_status_counts


def test_a_retried_operation_counts_once_at_its_latest_status():
    with duckdb.connect() as con:
        con.execute(OUTBOX_DDL)
        for lead, operation, status, minute in (
            ("lead_1", "upsert_lead", "retry_scheduled", 1),
            ("lead_1", "upsert_lead", "written", 2),
            ("lead_1", "create_task", "parked", 3),
            ("lead_2", "upsert_lead", "written", 1),
        ):
            con.execute(
                "insert into ops.crm_writes values (?, ?, ?, null, null, 'sha', ?, 1, null, ?)",
                [lead, operation, f"{lead}-{operation}", status, datetime(2026, 3, 1, 9, minute)],
            )
        assert latest_write_status_counts(con) == {"parked": 1, "written": 2}


def test_no_write_log_yet_counts_nothing():
    with duckdb.connect() as con:
        assert latest_write_status_counts(con) == {}
