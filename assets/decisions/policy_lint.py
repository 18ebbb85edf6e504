"""`leadops policy check`: what the dbt seed tests cannot see in a policy folder; plain Python over CSVs.

The seed contract (dbt_project/seeds/_policy__seeds.yml) checks one column at a time once the seeds are
loaded. This checks the policy as a whole, before any run: rule ids and kinds, every team a rule or a
template can name, teams nobody active in the CRM can take, overlapping segment bands, rules an earlier
always-matching rule shadows, intent phrases an earlier phrase always beats, a missing catch-all, and
countries a routing rule names but no region holds.
Each problem names the file, its line (the header is line 1) and what is wrong.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROUTING_RULES = "routing_rules.csv"
TEAMS = "teams.csv"
TERRITORY_TEAMS = "territory_teams.csv"
SPECIAL_CASES = "special_cases.csv"
SLA_TIERS = "sla_tiers.csv"
SEGMENT_BANDS = "segment_bands.csv"
COUNTRY_REGIONS = "country_regions.csv"
INTENT_RULES = "intent_rules.csv"

# The list cells of a lead_attribute rule (routing_rules columns), '|'-separated, empty = anything.
ATTRIBUTE_COLUMNS = (
    "countries",
    "regions",
    "segments",
    "sources",
    "intents",
    "job_functions",
    "seniorities",
    "account_statuses",
)
# Kinds whose rows carry their own conditions, so a policy may hold several rules of them under any id.
GENERIC_KINDS = frozenset({"lead_attribute", "catch_all"})
DISPOSITIONS = frozenset({"route", "escalate", "disqualify"})
_TEMPLATE_FIELD = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, order=True)
class PolicyProblem:
    file: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"


@dataclass(frozen=True)
class Row:
    """One CSV row and the line it starts on (the header is line 1)."""

    line: int
    values: Mapping[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


@dataclass(frozen=True)
class RuleKind:
    kind: str
    always_matches: bool


@dataclass
class Policy:
    """The CSVs of one policy folder, rows with their line numbers; a missing file reads as no rows."""

    folder: Path
    tables: dict[str, list[Row]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def rows(self, file: str) -> list[Row]:
        return self.tables.get(file, [])


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:  # reading the header first makes line_num count it
            return []
        rows: list[Row] = []
        line = reader.line_num + 1
        for values in reader:
            rows.append(Row(line, values))
            line = reader.line_num + 1
    return rows


def read_policy(folder: Path) -> Policy:
    policy = Policy(folder)
    for file in (
        ROUTING_RULES,
        TEAMS,
        TERRITORY_TEAMS,
        SPECIAL_CASES,
        SLA_TIERS,
        SEGMENT_BANDS,
        COUNTRY_REGIONS,
        INTENT_RULES,
    ):
        path = folder / file
        if path.is_file():
            policy.tables[file] = read_rows(path)
        else:
            policy.missing.append(file)
    return policy


def read_rule_kinds(path: Path) -> dict[str, RuleKind]:
    """The shared seed routing_rule_kinds: one row per CTE of int_evaluate_routing_rules."""
    return {
        row.get("kind"): RuleKind(row.get("kind"), row.get("always_matches") == "true")
        for row in read_rows(path)
    }


def split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split("|") if item.strip()]


def _is_true(cell: str) -> bool:
    return cell.strip().lower() == "true"


def _as_int(cell: str) -> int | None:
    try:
        return int(cell)
    except ValueError:
        return None


def always_matches(rule: Row, kinds: Mapping[str, RuleKind]) -> bool:
    """Every lead is a candidate: a catch-all kind, or a lead_attribute row without a single condition."""
    kind = kinds.get(rule.get("kind"))
    if kind is None:
        return False
    if kind.always_matches:
        return True
    return kind.kind == "lead_attribute" and not any(rule.get(column) for column in ATTRIBUTE_COLUMNS)


def expand_team(template: str, regions: Iterable[str], segments: Iterable[str]) -> set[str]:
    """Every team a team cell can name: '{region}' and '{segment}' over the policy's regions and segments."""
    teams = {template}
    for name, values in (("region", sorted(regions)), ("segment", sorted(segments))):
        placeholder = "{" + name + "}"
        if placeholder in template:
            teams = {team.replace(placeholder, value) for team in teams for value in values}
    return teams


def check_policy(
    policy: Policy,
    kinds: Mapping[str, RuleKind],
    active_owner_teams: set[str] | None = None,
) -> list[PolicyProblem]:
    """Every problem of the policy, sorted by file and line. `active_owner_teams` is the set of teams with
    at least one active owner in the CRM snapshot; None skips that check (no CRM to read)."""
    problems = [PolicyProblem(file, 1, "file missing from the policy folder") for file in policy.missing]
    teams = {row.get("team"): row for row in policy.rows(TEAMS) if row.get("team")}
    regions = {row.get("region") for row in policy.rows(COUNTRY_REGIONS) if row.get("region")}
    segments = {row.get("segment") for row in policy.rows(SEGMENT_BANDS) if row.get("segment")}
    problems += _check_rules(policy, kinds, teams, regions, segments)
    problems += _check_team_references(policy, teams, regions, segments)
    problems += _check_bands(policy)
    problems += _check_countries(policy)
    problems += _check_intent_phrases(policy)
    if active_owner_teams is not None:
        problems += [
            PolicyProblem(
                TEAMS, row.line, f"team {team!r} has no active owner in the CRM: its leads would escalate"
            )
            for team, row in teams.items()
            if team not in active_owner_teams
        ]
    return sorted(problems)


def _check_rules(
    policy: Policy,
    kinds: Mapping[str, RuleKind],
    teams: Mapping[str, Row],
    regions: set[str],
    segments: set[str],
) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    rules = policy.rows(ROUTING_RULES)
    seen_ids: set[str] = set()
    seen_priorities: set[int] = set()
    for rule in rules:
        rule_id, kind = rule.get("rule_id"), rule.get("kind")

        def problem(text: str, rule: Row = rule) -> None:
            problems.append(PolicyProblem(ROUTING_RULES, rule.line, text))

        if rule_id in seen_ids:
            problem(f"rule id {rule_id!r} appears twice")
        seen_ids.add(rule_id)
        if kind not in kinds:
            problem(f"rule {rule_id!r} has unknown kind {kind!r} (known: {', '.join(sorted(kinds))})")
        elif kind not in GENERIC_KINDS and rule_id != kind:
            problem(f"unknown rule id {rule_id!r}: a rule of built-in kind {kind!r} is named {kind!r}")
        priority = _as_int(rule.get("priority"))
        if priority is None:
            problem(f"rule {rule_id!r} has no whole-number priority")
        elif priority in seen_priorities:
            problem(f"rule {rule_id!r} shares priority {priority} with another rule")
        else:
            seen_priorities.add(priority)
        if rule.get("disposition") not in DISPOSITIONS:
            problem(
                f"rule {rule_id!r} has disposition {rule.get('disposition')!r}"
                " (route, escalate or disqualify)"
            )
        if kind not in GENERIC_KINDS and any(rule.get(column) for column in ATTRIBUTE_COLUMNS):
            problem(f"rule {rule_id!r} of kind {kind!r} ignores its condition cells: use kind lead_attribute")
        for value in split_list(rule.get("regions")):
            if value not in regions:
                problem(f"rule {rule_id!r} names region {value!r}, which country_regions does not have")
        for value in split_list(rule.get("segments")):
            if value not in segments:
                problem(f"rule {rule_id!r} names segment {value!r}, which segment_bands does not have")
        team = rule.get("team")
        if team:
            for name in sorted(expand_team(team, regions, segments) - set(teams)):
                problem(f"rule {rule_id!r} routes to unknown team {name!r} (not in teams.csv)")
            for placeholder in _TEMPLATE_FIELD.findall(team):
                if placeholder not in ("region", "segment"):
                    problem(
                        f"rule {rule_id!r}: team template field {{{placeholder}}} is not region or segment"
                    )
        elif rule.get("disposition") == "route" and kind in GENERIC_KINDS | {"partner_referral"}:
            problem(f"rule {rule_id!r} routes but names no team")

    enabled = sorted(
        (
            rule
            for rule in rules
            if _is_true(rule.get("enabled")) and _as_int(rule.get("priority")) is not None
        ),
        key=lambda rule: (_as_int(rule.get("priority")), rule.get("rule_id")),
    )
    shadowing = next((rule for rule in enabled if always_matches(rule, kinds)), None)
    if shadowing is None:
        problems.append(
            PolicyProblem(
                ROUTING_RULES,
                1,
                "no catch-all: no enabled rule matches every lead (kind catch_all or no_territory), so a lead"
                " no rule takes is never decided",
            )
        )
    else:
        for rule in enabled[enabled.index(shadowing) + 1 :]:
            problems.append(
                PolicyProblem(
                    ROUTING_RULES,
                    rule.line,
                    f"rule {rule.get('rule_id')!r} is unreachable: rule {shadowing.get('rule_id')!r}"
                    f" (line {shadowing.line}, priority {shadowing.get('priority')})"
                    " matches every lead first",
                )
            )
    return problems


def _check_team_references(
    policy: Policy, teams: Mapping[str, Row], regions: set[str], segments: set[str]
) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    for file, wildcard in ((TERRITORY_TEAMS, None), (SPECIAL_CASES, None), (SLA_TIERS, "*")):
        for row in policy.rows(file):
            team = row.get("team")
            if team and team != wildcard:
                for name in sorted(expand_team(team, regions, segments) - set(teams)):
                    problems.append(
                        PolicyProblem(file, row.line, f"unknown team {name!r} (not in teams.csv)")
                    )
    return problems


def _check_bands(policy: Policy) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    bands: list[tuple[Row, int, float]] = []
    for row in policy.rows(SEGMENT_BANDS):
        low = _as_int(row.get("min_employees"))
        high = _as_int(row.get("max_employees")) if row.get("max_employees") else None
        if low is None:
            problems.append(
                PolicyProblem(SEGMENT_BANDS, row.line, f"band {row.get('segment')!r} has no min_employees")
            )
            continue
        if high is not None and high < low:
            problems.append(
                PolicyProblem(SEGMENT_BANDS, row.line, f"band {row.get('segment')!r} ends before it starts")
            )
        bands.append((row, low, float("inf") if high is None else high))
    for index, (row, low, high) in enumerate(bands):
        for other, other_low, other_high in bands[:index]:
            if low <= other_high and other_low <= high:
                problems.append(
                    PolicyProblem(
                        SEGMENT_BANDS,
                        row.line,
                        f"band {row.get('segment')!r} overlaps band {other.get('segment')!r}"
                        f" (line {other.line}): a headcount would be in both",
                    )
                )
    return problems


def _check_countries(policy: Policy) -> list[PolicyProblem]:
    """A country a routing rule or special case routes by must be in a region; a rule that disqualifies or
    escalates by country (countries not served) needs none."""
    problems: list[PolicyProblem] = []
    in_region = {row.get("country_code").upper() for row in policy.rows(COUNTRY_REGIONS) if row.get("region")}
    for row in policy.rows(COUNTRY_REGIONS):
        if not row.get("region"):
            problems.append(
                PolicyProblem(COUNTRY_REGIONS, row.line, f"country {row.get('country_code')!r} has no region")
            )
    for rule in policy.rows(ROUTING_RULES):
        if rule.get("disposition") != "route":
            continue
        for country in split_list(rule.get("countries")):
            if country.upper() not in in_region:
                problems.append(
                    PolicyProblem(
                        ROUTING_RULES,
                        rule.line,
                        f"rule {rule.get('rule_id')!r} routes country {country!r}, which is in no region",
                    )
                )
    for case in policy.rows(SPECIAL_CASES):
        country = case.get("country_code")
        if country and country.upper() not in in_region:
            problems.append(
                PolicyProblem(
                    SPECIAL_CASES,
                    case.line,
                    f"case {case.get('case_id')!r} names country {country!r}, which is in no region",
                )
            )
    return problems


def _check_intent_phrases(policy: Policy) -> list[PolicyProblem]:
    """A message_contains row whose intent or flag never happens: an earlier row's phrase is inside its own
    (every message holding "seo services" also holds "seo"), for the same form or any form, and the earlier
    row says something else. The first matching row by priority decides (int_classify_lead_intents); a
    policy-flag row still counts in a message flagged as instruction-like, where intent rows do not, so only
    a flag row can shadow a flag row. Overlapping phrases that say the same ("my lawyer", "my lawyers") are
    redundant, not wrong: phrase lists per language overlap."""
    problems: list[PolicyProblem] = []
    phrases = sorted(
        (
            row
            for row in policy.rows(INTENT_RULES)
            if row.get("applies_to") == "message_contains"
            and row.get("keyword")
            and _as_int(row.get("priority")) is not None
        ),
        key=lambda row: (_as_int(row.get("priority")), row.get("rule_id")),
    )
    for index, row in enumerate(phrases):
        keyword = (row.values.get("keyword") or "").lower()
        for earlier in phrases[:index]:
            if (
                (earlier.values.get("keyword") or "").lower() in keyword
                and earlier.get("source") in ("", row.get("source"))
                and (earlier.get("policy_flag") or not row.get("policy_flag"))
                and (earlier.get("intent"), earlier.get("policy_flag"))
                != (row.get("intent"), row.get("policy_flag"))
            ):
                problems.append(
                    PolicyProblem(
                        INTENT_RULES,
                        row.line,
                        f"intent rule {row.get('rule_id')!r} never decides: every message with"
                        f" {keyword!r} also has {earlier.get('keyword').lower()!r}, which rule"
                        f" {earlier.get('rule_id')!r} (line {earlier.line}, priority"
                        f" {earlier.get('priority')}) reads first as"
                        f" {earlier.get('intent') or earlier.get('policy_flag')!r}",
                    )
                )
                break
    return problems
