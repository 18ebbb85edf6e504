"""A policy flag means the same to the rules and to a model: the flags a policy's intent rules may set (the
seed's accepted values) are exactly the model schema's PolicyFlag, so a model can raise every flag a rule
can, and the LLM's JSON Schema accepts nothing the rules do not know."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from integrations.llm.schema import LeadInterpretation, PolicyFlag

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def _accepted_policy_flags() -> set[str]:
    seeds = yaml.safe_load((DBT_PROJECT / "seeds" / "_policy__seeds.yml").read_text(encoding="utf-8"))
    intent_rules = next(seed for seed in seeds["seeds"] if seed["name"] == "intent_rules")
    column = next(column for column in intent_rules["columns"] if column["name"] == "policy_flag")
    (accepted,) = (test["accepted_values"] for test in column["data_tests"] if "accepted_values" in test)
    return set(accepted["arguments"]["values"])


def test_the_rules_and_the_model_know_the_same_policy_flags() -> None:
    assert _accepted_policy_flags() == {flag.value for flag in PolicyFlag}


def test_every_flag_a_policy_folder_sets_is_a_model_flag() -> None:
    known = {flag.value for flag in PolicyFlag}
    for rules in sorted((DBT_PROJECT / "policies").glob("*/intent_rules.csv")):
        with rules.open(encoding="utf-8", newline="") as handle:
            used = {row["policy_flag"] for row in csv.DictReader(handle) if row["policy_flag"]}
        assert used <= known, (rules.parent.name, used - known)


def test_a_model_answer_may_carry_every_flag() -> None:
    answer = {
        "intent": "general_info",
        "product_interest": [],
        "urgency": "high",
        "summary": "Asks for a copy of their data and to hear nothing more from us.",
        "follow_up_questions": [],
        "policy_sensitive": True,
        "policy_flags": [flag.value for flag in PolicyFlag],
        "confidence": 0.9,
    }
    assert LeadInterpretation.model_validate(answer).policy_flags == list(PolicyFlag)
