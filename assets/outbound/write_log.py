"""Where each lead's CRM operations stand: the latest send of each (lead, operation) in ops.crm_writes.

ops.crm_writes keeps every send (a retry, an unchanged re-send after a reconciliation); the run summary and
the outbound checks count the latest one per lead and operation, through this one query.
"""

from __future__ import annotations

LATEST_CRM_WRITES_QUERY = """
select *
from ops.crm_writes
qualify row_number() over (partition by lead_id, operation order by written_at desc) = 1
"""


def latest_write_status_counts(con) -> dict[str, int]:
    """Lead operations per status of their latest send; empty before the first write created the log."""
    exists = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'ops' and table_name = 'crm_writes'"
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        f"select status, count(*) from ({LATEST_CRM_WRITES_QUERY}) as latest group by status order by status"
    ).fetchall()
    return {status: int(count) for status, count in rows}
