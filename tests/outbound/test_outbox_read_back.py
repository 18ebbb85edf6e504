"""A read-back the CRM refuses for a moment (429, 5xx) neither fails the outbound step nor resends its
writes: the next sync's reconciliation reads them back."""

from __future__ import annotations

from datetime import datetime

import duckdb

from assets.outbound.outbox import RetryPolicy
from assets.outbound.reconcile import sync_to_crm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import ObjectType, Owner
from tests.outbound.outbound_rows import routed_row

POLICY = RetryPolicy(max_attempts=3, base_delay_seconds=1, max_delay_seconds=1)
T0 = datetime(2026, 12, 1, 9, 0)


def crm_with_owner() -> FakeCrm:
    crm = FakeCrm()
    crm.seed(
        owners=[
            Owner(
                owner_id="own_1",
                name="Rep One",
                email="one@salescorp.com",
                team="emea_smb",
                region="EMEA",
                active=True,
                capacity=50,
            )
        ]
    )
    return crm


def test_a_read_back_refused_for_a_moment_keeps_the_writes_and_the_run_going() -> None:
    crm = crm_with_owner()
    con = duckdb.connect()
    crm.inject_failure("read_by_external_ids")

    first = sync_to_crm(con, crm, [routed_row()], POLICY, now=lambda: T0)
    second = sync_to_crm(con, crm, [routed_row()], POLICY, now=lambda: T0)

    assert [result.status for result in first.results] == ["written"] * 4
    assert first.crm_unavailable is None and first.findings == []
    assert second.results == [] and second.findings == []
    assert dict(con.execute("select status, count(*) from ops.outbox_actions group by 1").fetchall()) == {
        "done": 4
    }
    assert (crm.count(ObjectType.LEAD), crm.count(ObjectType.TASK), crm.count(ObjectType.NOTE)) == (1, 1, 1)
