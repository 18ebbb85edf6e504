from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assets.identity.generator import GeneratorConfig, generate_identity_dataset
from assets.identity.splink_models import ACCOUNT_MODEL_PATH
from assets.identity.training import rows_per_account, train_account_model


def test_rows_per_account_counts_one_row_per_domain_and_refuses_an_empty_table() -> None:
    rows = pd.DataFrame({"account_id": ["a", "a", "b", "c"]})
    assert rows_per_account(rows) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="no account rows"):
        rows_per_account(rows.iloc[:0])


# Trains splink models for real (seconds each): the full suite, not the every-change tier.
@pytest.mark.slow
def test_account_training_is_reproducible_and_a_business_domain_outweighs_the_prior(tmp_path: Path) -> None:
    dataset = generate_identity_dataset(GeneratorConfig(n_people=600, n_accounts=120, seed=7))
    first = train_account_model(dataset, tmp_path / "first", u_max_pairs=2e5)
    second = train_account_model(dataset, tmp_path / "second", u_max_pairs=2e5)
    assert first.model_path.read_bytes() == second.model_path.read_bytes()

    model = json.loads(first.model_path.read_text())
    prior = model["probability_two_random_records_match"]
    domain = next(c for c in model["comparisons"] if c["output_column_name"] == "domain")
    email_equal = next(
        lv for lv in domain["comparison_levels"] if lv.get("label_for_charts") == "email domain equal"
    )
    # Bayes factor of an equal business domain must beat the prior odds by >= 20x (p >= 0.95 alone).
    assert email_equal["m_probability"] / email_equal["u_probability"] * prior / (1 - prior) >= 20


def test_shipped_account_model_is_a_valid_splink_model() -> None:
    model = json.loads(ACCOUNT_MODEL_PATH.read_text())
    assert {c["output_column_name"] for c in model["comparisons"]} == {
        "domain",
        "company_key",
        "country_code",
    }
    assert 0 < model["probability_two_random_records_match"] < 0.01
