"""Real dbt runs against a throw-away DuckDB warehouse: the routing rules, round robin across batches, kept
decisions, and a second routing policy that changes the outcome with the same SQL.

dbt is costly per invocation (~3 s for a `run`, ~20 s for a full `build` with its ~150 tests on 2 cores), so
the module shares one warehouse per policy and the batches run in order inside one fixture.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from leadops_dbt_warehouse import DbtWorkspace, add_firmographics, append_events, create_warehouse, query
from leadops_routing_scenario import BATCH_1, BATCH_2, BATCH_3, CRM, FIRMOGRAPHICS

pytestmark = pytest.mark.slow

DECISION_COLUMNS = "lead_id, email, event_ids, rule_id, disposition, team, owner_id, reason, decided_at"


def _decisions(workspace: DbtWorkspace) -> dict[str, dict[str, Any]]:
    """lead_decisions keyed by the lead's email (the event id for the lead without one)."""
    rows = query(workspace.warehouse, f"select {DECISION_COLUMNS} from marts.lead_decisions")
    return {row["email"] or row["event_ids"]: row for row in rows}


def _round_robin_counts(workspace: DbtWorkspace, team: str) -> Counter[str]:
    rows = query(
        workspace.warehouse,
        f"select owner_id from marts.lead_decisions where team = '{team}' and rule_id = 'territory_segment'",
    )
    return Counter(row["owner_id"] for row in rows)


def _new_workspace(tmp_path_factory: pytest.TempPathFactory, policy_dir: str) -> DbtWorkspace:
    scratch = tmp_path_factory.mktemp(Path(policy_dir).name)
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", policy_dir, scratch)
    create_warehouse(workspace.warehouse, CRM)
    add_firmographics(workspace.warehouse, FIRMOGRAPHICS)
    return workspace


@pytest.fixture(scope="module")
def default_policy_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three batches under policies/default, then a run with nothing new; snapshots after each."""
    workspace = _new_workspace(tmp_path_factory, "policies/default")
    snapshots: dict[str, Any] = {"workspace": workspace}

    append_events(workspace.warehouse, BATCH_1)
    # The one build that runs the unit tests: they mock their inputs, so the data and policy do not matter.
    snapshots["first_build"] = workspace.run("build")
    snapshots["batch_1"] = _decisions(workspace)
    snapshots["smb_counts"] = [_round_robin_counts(workspace, "amer_smb")]

    append_events(workspace.warehouse, BATCH_2)
    workspace.run("run", "--select", "+lead_decisions")
    snapshots["batch_2"] = _decisions(workspace)
    snapshots["smb_counts"].append(_round_robin_counts(workspace, "amer_smb"))

    # The last batch goes through a full build, so every data test also checks the incremental state.
    append_events(workspace.warehouse, BATCH_3)
    workspace.run("build", "--exclude-resource-type", "unit_test")
    snapshots["batch_3"] = _decisions(workspace)
    snapshots["smb_counts"].append(_round_robin_counts(workspace, "amer_smb"))

    workspace.run("run", "--select", "+lead_decisions")
    snapshots["rerun"] = _decisions(workspace)
    return snapshots


@pytest.fixture(scope="module")
def apac_first_decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    workspace = _new_workspace(tmp_path_factory, "policies/example_apac_first")
    append_events(workspace.warehouse, BATCH_1)
    workspace.run("build", "--exclude-resource-type", "unit_test")
    return _decisions(workspace)


@pytest.mark.parametrize(
    ("lead", "rule_id", "disposition", "team", "owner_id"),
    [
        ("bot@spam-farm.test", "spam", "disqualify", None, None),
        ("evt_no_contact", "spam", "disqualify", None, None),
        ("jane@acme.com", "existing_customer", "route", "amer_enterprise", "own_alice"),
        ("hans@globex.de", "account_owner_inactive", "escalate", "emea_mid_market", None),
        ("pete@initech.com", "owned_prospect", "route", "amer_mid_market", "own_paula"),
        ("m.a.r.y.major+demo@googlemail.com", "owned_prospect", "route", "amer_mid_market", "own_paula"),
        ("lena@smallshop.example", "partner_referral", "route", "partners", "own_pat"),
        ("fiona@finbank.co.uk", "special_case", "route", "strategic", "own_sam"),
        ("mia@mittelstand.example", "territory_segment", "route", "emea_mid_market", "own_eva"),
        ("ken@kaisha.example", "territory_segment", "route", "apac", "own_aiko"),
        ("ivan@example.ru", "no_territory", "escalate", None, None),
        ("ulla.umbrella@gmail.com", "no_active_owner", "escalate", "emea_enterprise", None),
    ],
)
def test_each_routing_rule_fires_for_its_case(
    default_policy_runs: dict[str, Any],
    lead: str,
    rule_id: str,
    disposition: str,
    team: str | None,
    owner_id: str | None,
) -> None:
    decision = default_policy_runs["batch_1"][lead]
    assert (decision["rule_id"], decision["disposition"], decision["team"], decision["owner_id"]) == (
        rule_id,
        disposition,
        team,
        owner_id,
    )


def test_reasons_name_the_facts_that_decided(default_policy_runs: dict[str, Any]) -> None:
    decisions = default_policy_runs["batch_1"]
    assert decisions["bot@spam-farm.test"]["reason"] == "disqualifying spam signals: honeypot_filled"
    assert "Gary Left (own_gary), who is inactive" in decisions["hans@globex.de"]["reason"]
    # Self-reported employee counts no longer set a segment: ivan.ru has no enrichment answer.
    assert decisions["ivan@example.ru"]["reason"] == "no territory for country RU / segment unknown"


def test_first_matching_rule_wins_over_later_ones(default_policy_runs: dict[str, Any]) -> None:
    # A partner referral from a customer's alias domain: existing_customer (20) beats partner_referral (50).
    decision = default_policy_runs["batch_1"]["joe@acme.io"]
    assert (decision["rule_id"], decision["owner_id"]) == ("existing_customer", "own_alice")


def test_round_robin_stays_within_one_among_active_owners_across_batches(
    default_policy_runs: dict[str, Any],
) -> None:
    # 4, then 5, then 2 new amer_smb leads among ava, ben and cara.
    expected_totals = [4, 9, 11]
    for counts, total in zip(default_policy_runs["smb_counts"], expected_totals, strict=True):
        assert sum(counts.values()) == total
        assert set(counts) == {"own_ava", "own_ben", "own_cara"}
        assert max(counts.values()) - min(counts.values()) <= 1


def test_inactive_or_parked_owner_never_receives_a_lead(default_policy_runs: dict[str, Any]) -> None:
    owners = {decision["owner_id"] for decision in default_policy_runs["rerun"].values()}
    assert {"own_dan", "own_pia", "own_gary", "own_erik"}.isdisjoint(owners)


def test_later_runs_keep_earlier_decisions(default_policy_runs: dict[str, Any]) -> None:
    batch_1, rerun = default_policy_runs["batch_1"], default_policy_runs["rerun"]
    for lead, decision in batch_1.items():
        kept = rerun[lead]
        for column in ("lead_id", "rule_id", "disposition", "team", "owner_id", "reason", "decided_at"):
            assert kept[column] == decision[column], (lead, column)
    assert default_policy_runs["batch_3"] == rerun


def test_repeat_submission_adds_its_event_but_keeps_the_owner(default_policy_runs: dict[str, Any]) -> None:
    before = default_policy_runs["batch_1"]["jane@acme.com"]
    after = default_policy_runs["batch_2"]["jane@acme.com"]
    assert before["event_ids"] == "evt_customer"
    assert after["event_ids"] == "evt_customer;evt_customer_again"
    assert (after["owner_id"], after["decided_at"]) == (before["owner_id"], before["decided_at"])


def test_sync_payload_skips_spam_and_gives_routed_leads_a_task(default_policy_runs: dict[str, Any]) -> None:
    workspace: DbtWorkspace = default_policy_runs["workspace"]
    rows = {
        row["email"]: row
        for row in query(
            workspace.warehouse,
            "select email, lead_status, task_subject, task_due_at, note_body from marts.sync_crm_leads",
        )
    }
    assert "bot@spam-farm.test" not in rows
    jane = rows["jane@acme.com"]
    assert jane["task_subject"] == "First touch: Jane Buyer (web_form)"
    assert "[rule: existing_customer]" in jane["note_body"]
    assert rows["ivan@example.ru"]["lead_status"] == "escalated"
    assert rows["ivan@example.ru"]["task_subject"] is None


def test_dbt_unit_tests_pass(default_policy_runs: dict[str, Any]) -> None:
    results = [
        node
        for node in default_policy_runs["first_build"].result.results
        if node.node.resource_type == "unit_test"
    ]
    assert len(results) >= 19
    assert all(str(node.status) == "pass" for node in results)


@pytest.mark.parametrize(
    ("lead", "default_team", "apac_first_team", "apac_first_rule"),
    [
        ("ken@kaisha.example", "apac", "apac_first", "special_case"),
        ("jane@acme.com", "amer_enterprise", "na_growth", "special_case"),
        ("fiona@finbank.co.uk", "strategic", "eu_sales", "territory_segment"),
        ("ulla.umbrella@gmail.com", "emea_enterprise", "eu_sales", "territory_segment"),
        ("lena@smallshop.example", "partners", "alliances", "partner_referral"),
        ("founder0@startup0-batch-1.example", "amer_smb", "na_velocity", "territory_segment"),
    ],
)
def test_another_policy_folder_routes_the_same_leads_elsewhere(
    default_policy_runs: dict[str, Any],
    apac_first_decisions: dict[str, dict[str, Any]],
    lead: str,
    default_team: str,
    apac_first_team: str,
    apac_first_rule: str,
) -> None:
    assert default_policy_runs["batch_1"][lead]["team"] == default_team
    decision = apac_first_decisions[lead]
    assert (decision["team"], decision["rule_id"], decision["disposition"]) == (
        apac_first_team,
        apac_first_rule,
        "route",
    )
