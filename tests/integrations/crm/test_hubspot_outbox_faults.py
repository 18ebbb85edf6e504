"""The pipeline's outbound assets against the HubSpot contract server with a fifth of its requests failing.

`ops/crm_writes` (the process_leads job's outbound step) plans and sends the decisions; `ops/outbox_delivery`
(the retry_due_actions job) is then materialized until no action is due, bounded. Every action completes
after retries or is parked with its error, HubSpot holds every record once, and the assets' metadata counts
the retries.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from contract_server_base import FaultPlan
from hubspot_server import HubSpotServer
from remote_crm_helpers import HUBSPOT_TOKEN, seed_hubspot

from assets.crm.resource import CrmResource
from assets.outbound.assets import crm_writes, outbox_delivery
from assets.outbound.outbox import next_due_at, utc_now
from assets.outbound.resource import OutboxResource

pytestmark = pytest.mark.slow

LEADS = 12
OPERATIONS_PER_LEAD = 4  # upsert, owner, task, note
# Bounded: with 8 attempts per action, an action is parked after its 8th failure long before this.
MAX_DELIVERY_RUNS = 40
# Backoffs of tens of milliseconds keep the test fast; the schedule itself is tested in tests/outbound.
FAST_RETRIES = OutboxResource(max_attempts=8, retry_base_seconds=0.02, retry_max_seconds=0.2)


def decision_rows(leads: int) -> list[dict]:
    """marts.sync_crm_leads rows for `leads` routed leads, split between the two active HubSpot owners."""
    return [
        {
            "lead_id": f"lead_{n:04d}",
            "email": f"person{n}@example.org",
            "first_name": f"Person{n}",
            "last_name": "Example",
            "company": f"Company {n}",
            "job_title": "CTO",
            "phone_e164": None,
            "country_code": "DE",
            "account_id": None,
            "contact_id": None,
            "disposition": "route",
            "lead_status": "routed",
            "rule_id": "territory_segment",
            "reason": "EMEA smb → emea_smb",
            "team": "emea_smb",
            "owner_id": ("OWN-1", "OWN-2")[n % 2],
            "source": "demo_request",
            "task_subject": f"First touch: Person{n} Example (demo_request)",
            "task_due_at": datetime(2026, 11, 25, 12, 30),
            "note_body": f"Routed by territory_segment: EMEA smb → emea_smb (lead {n})",
        }
        for n in range(leads)
    ]


def warehouse_with(path: Path, rows: list[dict]):
    from dagster_duckdb import DuckDBResource

    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.register("rows", pd.DataFrame(rows))
        con.execute("create table marts.sync_crm_leads as select * from rows")
    return DuckDBResource(database=str(path))


def test_a_fifth_of_hubspot_requests_failing_every_action_completes_once_with_its_retries_counted(
    tmp_path: Path,
) -> None:
    plan = FaultPlan(rate=0.2, seed=11, slow_seconds=0.3, retry_after_seconds=0)
    warehouse = warehouse_with(tmp_path / "warehouse.duckdb", decision_rows(LEADS))
    with HubSpotServer(token=HUBSPOT_TOKEN, faults=plan) as server:
        seed_hubspot(server)
        resources = {
            "warehouse": warehouse,
            "crm": CrmResource(kind="hubspot", hubspot_token=HUBSPOT_TOKEN, hubspot_host=server.url),
            "outbox": FAST_RETRIES,
        }
        runs = [dg.materialize([crm_writes], resources=resources, raise_on_error=False)]
        for _ in range(MAX_DELIVERY_RUNS):
            with warehouse.get_connection() as con:
                due = next_due_at(con)
            if due is None:
                break
            time.sleep(max(0.0, (due - utc_now()) / timedelta(seconds=1)))
            runs.append(dg.materialize([outbox_delivery], resources=resources, raise_on_error=False))
        server.faults.rate = 0.0
        external_ids = Counter(
            obj["properties"].get("leadops_external_id")
            for name in ("contacts", "tasks", "notes")
            for obj in server.objects[name].values()
            if name != "contacts" or obj["properties"].get("leadops_external_id")
        )
        with warehouse.get_connection() as con:
            statuses = dict(
                con.execute("select status, count(*) from ops.outbox_actions group by 1").fetchall()
            )
            parked = con.execute(
                "select action_id, last_error from ops.outbox_actions where status = 'dead'"
            ).fetchall()

    metadata = [
        materialization.metadata
        for run in runs
        if run.success
        for materialization in run.get_asset_materialization_events()
        for materialization in [materialization.event_specific_data.materialization]
    ]
    assert set(plan.injected) == {"rate_limit", "server_error", "slow", "lost_response"}
    assert due is None, f"the outbox did not settle in {MAX_DELIVERY_RUNS} delivery runs"
    assert set(statuses) <= {"done", "dead"}
    assert sum(statuses.values()) == LEADS * OPERATIONS_PER_LEAD
    assert all(error for _, error in parked), "a parked action carries its last error"
    assert statuses.get("done", 0) >= LEADS * OPERATIONS_PER_LEAD - len(parked)
    assert [key for key, count in external_ids.items() if count > 1] == []
    assert len([key for key in external_ids if key and key.startswith("lead:")]) == LEADS
    assert sum(entry["retries"].value for entry in metadata) > 0
    assert all("retries" in entry and "max_attempts" in entry for entry in metadata)
