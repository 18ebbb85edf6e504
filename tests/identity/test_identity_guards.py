from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from splink import DuckDBAPI, block_on

from assets.identity.guards import (
    GuardRailError,
    candidate_pair_upper_bound,
    check_auto_link_share,
    check_candidate_pair_volume,
    check_largest_cluster,
    count_candidate_pairs,
)
from assets.identity.prepare import prepare_people
from assets.identity.scoring import score_people
from assets.identity.splink_models import PERSON_MODEL_PATH, person_blocking_rules


def test_pair_volume_guard_passes_our_rules_and_fails_loudly_on_an_over_broad_rule(identity_dataset) -> None:
    people = identity_dataset.people()
    new, existing = people.iloc[-200:], people.iloc[:-200]
    # Our rules make a few candidate pairs per new record; a country block makes ~90 (1 in 14 records).
    limit = 20 * len(new)

    ours = check_candidate_pair_volume(new, existing, limit=limit)
    broad = check_candidate_pair_volume(new, existing, blocking_rules=[block_on("country_code")], limit=limit)

    assert ours.passed and 0 < ours.value <= limit
    assert not broad.passed and broad.value > limit
    with pytest.raises(GuardRailError, match="candidate_pair_volume"):
        broad.raise_if_failed()


def test_pair_upper_bound_is_exact_for_one_rule_and_never_below_the_exact_count(identity_dataset) -> None:
    people = prepare_people(identity_dataset.people())
    con = duckdb.connect()
    db_api = DuckDBAPI(con)
    new = db_api.register(people.iloc[-200:], table_name="new_records")
    existing = db_api.register(people.iloc[:-200], table_name="existing_records")
    rules = person_blocking_rules()
    try:
        for tables, link_type in ((existing, "dedupe_only"), ([new, existing], "link_only")):
            assert candidate_pair_upper_bound(tables, rules[:1], link_type) == count_candidate_pairs(
                tables, rules[:1], link_type
            )
            exact = count_candidate_pairs(tables, rules, link_type)
            bound = candidate_pair_upper_bound(tables, rules, link_type)
            # Overlapping rules are counted once per rule; the bound stays within the rule count.
            assert exact <= bound <= len(rules) * exact
    finally:
        con.close()


def test_scoring_with_an_over_broad_model_stops_before_predict(identity_dataset, tmp_path: Path) -> None:
    model = json.loads(PERSON_MODEL_PATH.read_text())
    model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": 'l."country_code" = r."country_code"'}
    ]
    broad_model = tmp_path / "broad_person_model.json"
    broad_model.write_text(json.dumps(model))
    people = identity_dataset.people()

    with pytest.raises(GuardRailError) as failure:
        score_people(people.iloc[-200:], people.iloc[:-200], broad_model, max_candidate_pairs=4_000)
    assert failure.value.result.value > 4_000


def test_largest_cluster_guard_reports_the_offending_cluster() -> None:
    clusters = pd.DataFrame(
        {"record_id": [f"r{i}" for i in range(60)], "person_id": ["per_x"] * 55 + ["per_y"] * 5}
    )
    result = check_largest_cluster(clusters, limit=50)
    assert (result.passed, result.value, result.limit) == (False, 55, 50)
    assert "per_x" in result.detail
    assert check_largest_cluster(clusters.iloc[50:], limit=50).passed


def test_auto_link_share_guard_fails_when_nearly_everything_auto_links() -> None:
    scores = pd.DataFrame({"decision": ["linked"] * 19 + ["new"]})
    assert not check_auto_link_share(scores, limit=0.9).passed
    assert check_auto_link_share(scores.iloc[10:], limit=0.9).passed
