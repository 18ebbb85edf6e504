from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from assets.identity.training_assets import (
    IDENTITY_TRAINING_GROUP,
    TRAINED_MODELS_KEY,
    identity_trained_models,
    match_weights_markdown,
    model_version,
)

SMALL_WORLD = {"n_people": 400, "n_accounts": 80, "seed": 7, "u_max_pairs": 2e5}


def _materialize(output_dir: Path):
    config = {"ops": {"identity__trained_models": {"config": {"output_dir": str(output_dir), **SMALL_WORLD}}}}
    return materialize([identity_trained_models], run_config=config)


# Trains splink models for real (seconds each): the full suite, not the every-change tier.
@pytest.mark.slow
def test_training_asset_writes_models_and_charts_and_surfaces_them_as_metadata(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = _materialize(tmp_path)
    assert result.success
    assert time.perf_counter() - started < 60

    materialization = result.asset_materializations_for_node("identity__trained_models")[0]
    assert materialization.asset_key == TRAINED_MODELS_KEY == AssetKey(["identity", "trained_models"])
    metadata = materialization.metadata
    for name in ("person", "account"):
        path = tmp_path / f"{name}_model.json"
        assert metadata[f"{name}_model_path"].value == str(path)
        assert metadata[f"{name}_model_version"].value == model_version(path)
        assert metadata[f"{name}_training_records"].value > 0
        assert metadata[f"{name}_model_changed"].value is True  # nothing was there before
        table = metadata[f"{name}_match_weights"].value
        assert "| comparison | level | m | u | weight (bits) |" in table
        for chart in ("match_weights", "m_u_parameters"):
            chart_path = tmp_path / "charts" / f"{name}_{chart}.html"
            assert chart_path.stat().st_size > 10_000
            assert metadata[f"{name}_chart_{chart}"].value == chart_path.as_uri()
    assert "| domain | email domain equal |" in metadata["account_match_weights"].value
    info = json.loads((tmp_path / "person_model.training.json").read_text())
    assert info["training_records"] == metadata["person_training_records"].value


# Trains splink models for real (seconds each): the full suite, not the every-change tier.
@pytest.mark.slow
def test_retraining_with_the_same_seed_reproduces_the_same_model_versions(tmp_path: Path) -> None:
    first = _materialize(tmp_path).asset_materializations_for_node("identity__trained_models")[0].metadata
    second = _materialize(tmp_path).asset_materializations_for_node("identity__trained_models")[0].metadata
    for name in ("person", "account"):
        assert second[f"{name}_model_version"].value == first[f"{name}_model_version"].value
        assert second[f"{name}_model_changed"].value is False


def test_training_asset_is_on_demand_only_in_its_own_group() -> None:
    spec = identity_trained_models.specs_by_key[TRAINED_MODELS_KEY]
    assert spec.group_name == IDENTITY_TRAINING_GROUP == "identity_training"
    assert spec.automation_condition is None


def test_match_weights_table_shows_weight_in_bits_per_level() -> None:
    model = {
        "probability_two_random_records_match": 0.001,
        "comparisons": [
            {
                "output_column_name": "email_key",
                "comparison_levels": [
                    {"sql_condition": "x IS NULL", "is_null_level": True, "label_for_charts": "null"},
                    {
                        "sql_condition": "x = y",
                        "label_for_charts": "exact",
                        "m_probability": 0.8,
                        "u_probability": 0.1,
                    },
                ],
            }
        ],
    }
    table = match_weights_markdown(model)
    assert "| email_key | exact | 0.8 | 0.1 | +3.00 |" in table
    assert "-9.96 bits" in table
