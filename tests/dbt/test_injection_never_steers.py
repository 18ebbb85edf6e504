"""Injected text never steers a decision under the default policy: every row of the held-back injection set
(heldback_injections.py) is flagged and gets the disposition of its twin that wrote nothing. The third
example policy runs the same set in its scenario (test_dbt_partner_regions_policy.py). One dbt seed and
run, no data tests (~1 min).
"""

from __future__ import annotations

from typing import Any

import pytest
from heldback_injections import (
    DECISIONS_SQL,
    ROWS,
    assert_the_injection_changed_nothing,
    by_twin,
    injection_firmographics,
    injection_leads,
)
from leadops_dbt_warehouse import DbtWorkspace, add_firmographics, append_events, create_warehouse, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    scratch = tmp_path_factory.mktemp("injections")
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", "policies/default", scratch)
    create_warehouse(workspace.warehouse, {})
    add_firmographics(workspace.warehouse, injection_firmographics())
    append_events(workspace.warehouse, injection_leads())
    workspace.run("seed")
    workspace.run("run", "--select", "+lead_decisions")
    return by_twin(query(workspace.warehouse, DECISIONS_SQL))


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_a_heldback_injection_gets_the_disposition_of_the_same_lead_without_it(decisions, row):
    assert_the_injection_changed_nothing(decisions, row)
