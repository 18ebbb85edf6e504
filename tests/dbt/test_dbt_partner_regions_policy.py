"""policies/example_partner_regions: a company whose policy differs in shape from the default, written only as
CSV rows (countries not served, spam phrases, support requests from customers, a partner desk per region from
a team template, SLA by team, a catch-all), routes the scenario's leads with the same SQL, routes sub-domain
mail hosts to their account's owner, lets no held-back injection change a disposition, and passes
`leadops policy check` against its CRM. One `dbt build` for all of it."""

from __future__ import annotations

from dataclasses import dataclass
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
from leadops_dbt_warehouse import (
    DbtWorkspace,
    add_firmographics,
    append_events,
    create_warehouse,
    event,
    query,
)
from leadops_routing_scenario import BATCH_1, CRM, FIRMOGRAPHICS, OWNERS

from assets.decisions.policy_lint import check_policy, read_policy, read_rule_kinds
from dagster_project.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow

POLICY = "policies/example_partner_regions"


def _owner(owner_id: str, team: str, region: str) -> dict[str, Any]:
    return {
        "owner_id": owner_id,
        "name": owner_id.removeprefix("own_").title(),
        "email": f"{owner_id}@ourco.example",
        "team": team,
        "region": region,
        "active": True,
        "capacity": 25,
    }


# The scenario's CRM plus one rep per team of this policy: a CRM holds every rep whichever policy is active.
POLICY_OWNERS = [
    _owner(
        f"own_{team.lower().replace('-', '_')}",
        team,
        team.split("-")[-1] if team.startswith("PARTNER") else team.split("-")[0],
    )
    for team in (
        *[f"{region}-{segment}" for region in ("AMER", "EMEA", "APAC") for segment in ("smb", "mid", "ent")],
        "APAC-jp",
        "PARTNER-AMER",
        "PARTNER-EMEA",
        "PARTNER-APAC",
    )
]


def _with_message(fields: dict[str, Any], message: str) -> dict[str, Any]:
    return {**fields, "message": message}


# The policy shapes the scenario's batch does not reach yet, and mail from a sub-domain of a CRM account.
POLICY_SHAPE_LEADS = [
    _with_message(
        event("evt_spam_phrase", 40, email="mark@reach-blogs.example", first_name="Mark", country_code="US"),
        "We place a guest post on 40 high-traffic blogs for your brand every month.",
    ),
    _with_message(
        event("evt_customer_support", 41, email="pat@acme.com", first_name="Pat", country_code="US"),
        "Since this morning I cannot log in to our workspace, please help.",
    ),
    # The CRM keeps registrable domains (acme.com, initech.com); these mail hosts are sub-domains of them.
    event("evt_sub_domain_customer", 42, email="rita@eu.acme.com", first_name="Rita", country_code="DE"),
    event("evt_sub_domain_prospect", 43, email="sid@us.initech.com", first_name="Sid", country_code="US"),
]


@dataclass(frozen=True)
class PartnerRegionsRun:
    decisions: dict[str, dict[str, Any]]
    injections: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> PartnerRegionsRun:
    scratch = tmp_path_factory.mktemp("partner_regions")
    workspace = DbtWorkspace(scratch / "warehouse.duckdb", POLICY, scratch)
    create_warehouse(workspace.warehouse, {**CRM, "owners": [*OWNERS, *POLICY_OWNERS]})
    add_firmographics(workspace.warehouse, [*FIRMOGRAPHICS, *injection_firmographics()])
    append_events(workspace.warehouse, [*BATCH_1, *POLICY_SHAPE_LEADS, *injection_leads()])
    # Unit tests mock their inputs: they run once, in the default policy's build (test_dbt_routing.py).
    workspace.run("build", "--exclude-resource-type", "unit_test")
    rows = query(
        workspace.warehouse,
        "select email, event_ids, rule_id, disposition, team, owner_id, account_id, reason, sla_minutes"
        " from marts.lead_decisions",
    )
    return PartnerRegionsRun(
        decisions={row["email"] or row["event_ids"]: row for row in rows},
        injections=by_twin(query(workspace.warehouse, DECISIONS_SQL)),
    )


@pytest.fixture
def decisions(scenario: PartnerRegionsRun) -> dict[str, dict[str, Any]]:
    return scenario.decisions


@pytest.mark.parametrize(
    ("lead", "rule_id", "disposition", "team"),
    [
        ("ivan@example.ru", "countries_not_served", "disqualify", None),
        ("lena@smallshop.example", "partner_referral", "route", "PARTNER-AMER"),
        ("ken@kaisha.example", "special_case", "route", "APAC-jp"),
        ("mia@mittelstand.example", "territory_segment", "route", "EMEA-mid"),
        ("ulla.umbrella@gmail.com", "territory_segment", "route", "EMEA-ent"),
        ("founder0@startup0-batch-1.example", "territory_segment", "route", "AMER-smb"),
        ("jane@acme.com", "existing_customer", "route", "amer_enterprise"),
        ("hans@globex.de", "account_owner_inactive", "escalate", "emea_mid_market"),
        ("bot@spam-farm.test", "spam", "disqualify", None),
        ("mark@reach-blogs.example", "spam_phrases", "disqualify", None),
        ("pat@acme.com", "customer_support", "disqualify", None),
    ],
)
def test_the_partner_regions_policy_routes_each_lead_by_its_own_rows(
    decisions: dict[str, dict[str, Any]], lead: str, rule_id: str, disposition: str, team: str | None
) -> None:
    decision = decisions[lead]
    assert (decision["rule_id"], decision["disposition"], decision["team"]) == (rule_id, disposition, team)


def test_sla_comes_from_the_team_once_it_is_known_and_only_routed_leads_have_one(
    decisions: dict[str, dict[str, Any]],
) -> None:
    assert decisions["lena@smallshop.example"]["sla_minutes"] == 1440  # partner desk: a day
    assert decisions["ken@kaisha.example"]["sla_minutes"] == 60  # Japan desk
    assert decisions["mia@mittelstand.example"]["sla_minutes"] == 20  # demo request, any segment
    assert decisions["ulla.umbrella@gmail.com"]["sla_minutes"] == 30  # EMEA-ent
    assert decisions["founder0@startup0-batch-1.example"]["sla_minutes"] == 240
    for lead in ("ivan@example.ru", "hans@globex.de", "bot@spam-farm.test"):
        assert decisions[lead]["sla_minutes"] is None


def test_a_countries_not_served_row_names_itself_in_the_reason(decisions: dict[str, dict[str, Any]]) -> None:
    assert decisions["ivan@example.ru"]["reason"] == (
        "We do not sell in this country (sanctions; no local entity): not a lead (rule countries_not_served)"
    )


def test_the_policy_passes_the_check_against_its_crm() -> None:
    active_teams = {owner["team"] for owner in [*OWNERS, *POLICY_OWNERS] if owner["active"]}
    policy = read_policy(DBT_PROJECT_DIR / POLICY)
    assert (
        check_policy(
            policy, read_rule_kinds(DBT_PROJECT_DIR / "seeds" / "routing_rule_kinds.csv"), active_teams
        )
        == []
    )
    assert len(policy.rows("teams.csv")) >= 10


@pytest.mark.parametrize(
    ("lead", "account_id", "rule_id", "owner_id"),
    [
        ("rita@eu.acme.com", "acc_acme", "existing_customer", "own_alice"),
        ("sid@us.initech.com", "acc_initech", "owned_prospect", "own_paula"),
    ],
)
def test_a_sub_domain_lead_routes_to_its_account_owner(
    decisions: dict[str, dict[str, Any]], lead: str, account_id: str, rule_id: str, owner_id: str
) -> None:
    decision = decisions[lead]
    assert (decision["account_id"], decision["rule_id"], decision["disposition"], decision["owner_id"]) == (
        account_id,
        rule_id,
        "route",
        owner_id,
    )


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_a_heldback_injection_gets_the_disposition_of_the_same_lead_without_it(
    scenario: PartnerRegionsRun, row: dict[str, str]
) -> None:
    assert_the_injection_changed_nothing(scenario.injections, row)
