"""The dbt side of overrides states the same contract as the Python validator (no dbt run needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

from assets.overrides.assets import OPERATOR_OVERRIDES_KEY
from assets.overrides.tables import OPERATOR_OVERRIDES_COLUMNS
from integrations.overrides_file.contract import CORRECTABLE_FIELDS, OVERRIDE_COLUMNS, Action, Scope

DBT_MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"
STAGING = DBT_MODELS / "staging" / "leadops_operator"


def accepted_values(models_yml: Path, model: str, column: str) -> list[str]:
    document = yaml.safe_load(models_yml.read_text())
    [node] = [m for m in document["models"] if m["name"] == model]
    [col] = [c for c in node["columns"] if c["name"] == column]
    tests = [t["accepted_values"] for t in col["data_tests"] if "accepted_values" in t]
    return tests[0]["arguments"]["values"]


def test_staging_accepts_exactly_the_scopes_actions_and_fields_of_the_validator():
    models_yml = STAGING / "_leadops_operator__models.yml"
    model = "stg_leadops_operator__overrides"
    assert sorted(accepted_values(models_yml, model, "scope")) == sorted(Scope)
    assert sorted(accepted_values(models_yml, model, "action")) == sorted(Action)
    assert sorted(accepted_values(models_yml, model, "field_name")) == sorted(CORRECTABLE_FIELDS)


def test_resolved_overrides_never_contain_revokes_or_resumes():
    models_yml = DBT_MODELS / "intermediate" / "overrides" / "_overrides__models.yml"
    actions = accepted_values(models_yml, "int_resolve_active_overrides", "action")
    assert sorted(actions) == sorted(set(Action) - {Action.REVOKE, Action.RESUME_AUTOMATION})


def test_the_source_maps_to_the_python_asset_and_its_table():
    document = yaml.safe_load((STAGING / "_leadops_operator__sources.yml").read_text())
    [source] = document["sources"]
    [table] = source["tables"]
    expected = ("leadops_operator", "raw", "operator_overrides")
    assert (source["name"], source["schema"], table["name"]) == expected
    assert table["meta"]["dagster"]["asset_key"] == OPERATOR_OVERRIDES_KEY.path
    assert (*OVERRIDE_COLUMNS, "line_number") == OPERATOR_OVERRIDES_COLUMNS
