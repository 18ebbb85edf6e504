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
    oversized_blocking_keys,
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


def _person(record_id: str, first: str, last: str, country: str = "US", email: str | None = None) -> dict:
    return {
        "record_id": record_id,
        "email_key": email or f"{record_id}@example.com",
        "first_name": first,
        "last_name": last,
        "company_key": None,
        "country_code": country,
        "phone": None,
    }


def test_oversized_blocking_keys_names_the_rule_the_key_and_its_pairs_within_and_against_earlier() -> None:
    rules = [
        block_on("email_key"),
        block_on("first_name", "last_name", "country_code"),
        "l.email_key <> r.email_key",
    ]
    new = pd.DataFrame(
        [_person(f"n{i}", "test", "user") for i in range(5)]
        + [_person("j1", "jane", "doe"), _person("j2", "jane", "doe"), _person("x1", "test", "user", "DE")]
    )
    existing = pd.DataFrame(
        [_person(f"e{i}", "test", "user") for i in range(2)] + [_person("e9", "jane", "doe")]
    )

    # test/user/US: 5·4/2 = 10 pairs within the new records + 5·2 = 10 against the earlier ones.
    found = oversized_blocking_keys(new, existing, rules, limit_per_key=19)

    assert found["record_id"].tolist() == [f"n{i}" for i in range(5)]
    assert set(found["rule"]) == {"first_name, last_name, country_code"}
    assert set(found["key"]) == {("test", "user", "US")}
    assert set(zip(found["new_records"], found["existing_records"], found["pairs"], strict=True)) == {
        (5, 2, 20)
    }
    # The earliest earlier record of the block is every new record's candidate.
    assert set(zip(found["candidate_id"], found["candidate_source"], strict=True)) == {("e0", "existing")}
    assert all(
        r.startswith("blocking_key_oversized: rule (first_name, last_name, country_code)")
        for r in found["reason"]
    )
    assert "20 candidate pairs (limit 19 per key)" in found["reason"].iloc[0]
    # At the limit nothing is oversized; the rule without an equi-join is the guard's, never a key's.
    assert oversized_blocking_keys(new, existing, rules, limit_per_key=20).empty


def test_an_oversized_block_of_new_records_alone_points_each_at_another_new_record() -> None:
    new = pd.DataFrame([_person(f"n{i}", "test", "user") for i in range(4)])
    found = oversized_blocking_keys(
        new, new.iloc[0:0], [block_on("first_name", "last_name", "country_code")], limit_per_key=5
    )
    assert dict(zip(found["record_id"], found["candidate_id"], strict=True)) == {
        "n0": "n1",
        "n1": "n0",
        "n2": "n0",
        "n3": "n0",
    }
    assert set(found["candidate_source"]) == {"batch"} and set(found["pairs"]) == {6}
