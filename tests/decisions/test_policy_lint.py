"""`leadops policy check`: each kind of broken policy is named with its file and line; every policy folder in
the repository is clean (this is how CI runs the check)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets.decisions.policy_lint import (
    PolicyProblem,
    check_policy,
    expand_team,
    read_policy,
    read_rule_kinds,
)
from dagster_project.cli import main
from dagster_project.settings import DBT_PROJECT_DIR

POLICIES = DBT_PROJECT_DIR / "policies"
KINDS = read_rule_kinds(DBT_PROJECT_DIR / "seeds" / "routing_rule_kinds.csv")
RULES_HEADER = (
    "rule_id,priority,kind,disposition,team,enabled,waits_for_enrichment,countries,regions,segments,sources,"
    "intents,job_functions,seniorities,account_statuses,description"
)


def _policy(tmp_path: Path, **files: str) -> Path:
    """The default policy with some files replaced (name without .csv -> full text)."""
    folder = tmp_path / "policy"
    shutil.copytree(POLICIES / "default", folder)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def _rules(*rows: str) -> str:
    return "\n".join([RULES_HEADER, *rows]) + "\n"


def _problems(folder: Path, active_owner_teams: set[str] | None = None) -> list[PolicyProblem]:
    return check_policy(read_policy(folder), KINDS, active_owner_teams)


SPECIAL_CASES_HEADER = (
    "case_id,priority,region,country_code,industry,min_employees,max_employees,team,reason\n"
)
CATCH_ALL = "no_territory,80,no_territory,escalate,,true,true,,,,,,,,,fallback"


@pytest.mark.parametrize("folder", sorted(path.name for path in POLICIES.iterdir() if path.is_dir()))
def test_every_policy_folder_in_the_repository_passes_the_check(folder: str) -> None:
    assert main(["policy", "check", "--policy", f"policies/{folder}", "--no-crm"]) == 0


def test_unknown_kind_and_misnamed_built_in_rule_are_named_with_their_line(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        routing_rules=_rules(
            "spam,10,spam,disqualify,,true,false,,,,,,,,,spam",
            "vip,20,vip_lookup,route,,true,false,,,,,,,,,made-up kind",
            "my_territories,30,territory_segment,route,,true,true,,,,,,,,,renamed built-in",
            CATCH_ALL,
        ),
    )
    problems = _problems(folder)
    assert [(p.file, p.line) for p in problems] == [("routing_rules.csv", 3), ("routing_rules.csv", 4)]
    assert "unknown kind 'vip_lookup'" in problems[0].problem
    assert "unknown rule id 'my_territories'" in problems[1].problem


def test_unknown_teams_are_named_wherever_they_are_used(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        routing_rules=_rules(
            "partner_referral,50,partner_referral,route,PARTNER-{region},true,false,,,,,,,,,partners",
            CATCH_ALL,
        ),
        territory_teams="region,segment,team\nAMER,smb,amer_tiny\n",
        sla_tiers="source,segment,team,sla_minutes,priority\n*,*,night_desk,60,10\n*,*,*,480,100\n",
    )
    problems = {(p.file, p.line, p.problem) for p in _problems(folder)}
    for region in ("AMER", "APAC", "EMEA"):
        assert (
            "routing_rules.csv",
            2,
            f"rule 'partner_referral' routes to unknown team 'PARTNER-{region}' (not in teams.csv)",
        ) in problems
    assert ("territory_teams.csv", 2, "unknown team 'amer_tiny' (not in teams.csv)") in problems
    assert ("sla_tiers.csv", 2, "unknown team 'night_desk' (not in teams.csv)") in problems


def test_a_team_without_an_active_owner_is_named_at_its_teams_row(tmp_path: Path) -> None:
    folder = _policy(tmp_path)
    teams_in_crm = {"amer_smb", "amer_mid_market", "amer_enterprise", "emea_smb", "emea_mid_market"}
    teams_in_crm |= {"emea_enterprise", "strategic", "apac"}
    problems = _problems(folder, teams_in_crm)
    assert [(p.file, p.line) for p in problems] == [("teams.csv", 10)]
    assert "team 'partners' has no active owner" in problems[0].problem


def test_overlapping_segment_bands_are_named(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        segment_bands="segment,min_employees,max_employees\nsmb,0,199\nmid_market,150,999\nenterprise,1000,\n",
    )
    problems = _problems(folder)
    assert [(p.file, p.line) for p in problems] == [("segment_bands.csv", 3)]
    assert "overlaps band 'smb' (line 2)" in problems[0].problem


def test_a_rule_after_one_that_matches_every_lead_is_unreachable(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        routing_rules=_rules(
            "spam,10,spam,disqualify,,true,false,,,,,,,,,spam",
            "everyone_to_inside_sales,20,lead_attribute,route,amer_smb,true,false,,,,,,,,,no condition",
            "territory_segment,70,territory_segment,route,,true,true,,,,,,,,,territories",
            CATCH_ALL,
        ),
    )
    problems = _problems(folder)
    assert [(p.file, p.line) for p in problems] == [("routing_rules.csv", 4), ("routing_rules.csv", 5)]
    assert all(
        "rule 'everyone_to_inside_sales' (line 3, priority 20) matches every lead first" in p.problem
        for p in problems
    )


def test_a_policy_without_a_catch_all_is_rejected(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        routing_rules=_rules(
            "territory_segment,70,territory_segment,route,,true,true,,,,,,,,,territories",
            "no_territory,80,no_territory,escalate,,false,true,,,,,,,,,switched off",
        ),
    )
    problems = _problems(folder)
    assert [(p.file, p.line) for p in problems] == [("routing_rules.csv", 1)]
    assert problems[0].problem.startswith("no catch-all")


def test_countries_in_no_region_are_named(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        routing_rules=_rules(
            "not_served,5,lead_attribute,disqualify,,true,false,KP|IR,,,,,,,,not served: no region needed",
            "swiss_desk,6,lead_attribute,route,emea_smb,true,false,CH|LI,,,,,,,,routed countries need one",
            CATCH_ALL,
        ),
        country_regions="country_code,region\nCH,EMEA\nUS,AMER\nJP,\n",
        special_cases=SPECIAL_CASES_HEADER + "vatican,10,,VA,,,,strategic,holy see\n",
    )
    problems = {(p.file, p.line, p.problem) for p in _problems(folder)}
    assert problems == {
        ("country_regions.csv", 4, "country 'JP' has no region"),
        ("routing_rules.csv", 3, "rule 'swiss_desk' routes country 'LI', which is in no region"),
        ("special_cases.csv", 2, "case 'vatican' names country 'VA', which is in no region"),
    }


INTENT_RULES_HEADER = "rule_id,priority,source,applies_to,keyword,intent,policy_flag,description\n"


def test_an_intent_phrase_an_earlier_phrase_always_beats_is_named(tmp_path: Path) -> None:
    folder = _policy(
        tmp_path,
        intent_rules=INTENT_RULES_HEADER
        + "vendor_seo,10,,message_contains,SEO,vendor_pitch,,sells seo\n"
        + "spam_seo_services,20,,message_contains,seo services,spam,,never decides\n"
        # Same phrase for one form only: the earlier row is for another form, so this one decides.
        + "chat_pricing,30,chat,message_contains,price list,pricing,,chat\n"
        + "web_price_list,40,web_form,message_contains,price list please,general_info,,other form\n"
        # A flag row still decides in a message flagged as instruction-like, where an intent row does not.
        + "lawyer_word,50,,message_contains,lawyer,general_info,,an intent\n"
        + "legal_threat,60,,message_contains,my lawyer,,legal_threat,still flags\n"
        # Saying the same as the earlier phrase is redundant, not wrong.
        + "legal_threat_plural,70,,message_contains,my lawyers,,legal_threat,same flag\n",
    )
    problems = [p for p in _problems(folder) if p.file == "intent_rules.csv"]
    assert [p.line for p in problems] == [3]
    assert problems[0].problem == (
        "intent rule 'spam_seo_services' never decides: every message with 'seo services' also has 'seo',"
        " which rule 'vendor_seo' (line 2, priority 10) reads first as 'vendor_pitch'"
    )


def test_the_command_prints_file_line_and_problem_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _policy(
        tmp_path, segment_bands="segment,min_employees,max_employees\nsmb,0,199\nmid_market,199,\n"
    )
    assert main(["policy", "check", "--policy", str(folder), "--no-crm"]) == 1
    assert (
        f"{folder / 'segment_bands.csv'}:3: band 'mid_market' overlaps band 'smb'" in capsys.readouterr().out
    )


def test_team_templates_expand_over_the_policy_regions_and_segments() -> None:
    assert expand_team("PARTNER-{region}", {"EMEA", "APAC"}, {"smb"}) == {"PARTNER-EMEA", "PARTNER-APAC"}
    assert expand_team("{region}_{segment}", {"NA"}, {"smb", "ent"}) == {"NA_smb", "NA_ent"}
    assert expand_team("partners", {"NA"}, {"smb"}) == {"partners"}
