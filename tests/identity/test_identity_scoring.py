from __future__ import annotations

import json
import math
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from assets.identity.prepare import IdentityInputError, first_name_key
from assets.identity.scoring import (
    apply_person_assignments,
    cluster_people,
    person_candidate_pairs,
    population_adjusted_prior,
    score_accounts,
    score_people,
)
from assets.identity.splink_models import PERSON_MODEL_PATH, training_info_path


def _lead(record_id: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "record_id": record_id,
        "email_key": None,
        "email_domain": None,
        "is_free_email": False,
        "first_name_normalized": None,
        "last_name_normalized": None,
        "company_normalized": None,
        "website_domain": None,
        "country_code": None,
        "phone_e164": None,
        "source": "web_form",
    }
    row.update(values)
    return row


def test_nickname_table_maps_common_nicknames_to_one_name() -> None:
    assert first_name_key("Bob") == first_name_key("ROBERT ") == "robert"
    assert first_name_key("Liz") == "elizabeth"
    assert first_name_key("Bill") == "william"


def test_one_person_submitting_again_in_another_case_plus_address_nickname_and_source_is_linked(
    identity_dataset,
) -> None:
    existing = pd.DataFrame(
        [
            _lead(
                "evt_first",
                email_key="robert.hallworth@northwind.io",
                email_domain="northwind.io",
                first_name_normalized="Robert",
                last_name_normalized="Hallworth",
                company_normalized="northwind",
                country_code="US",
                phone_e164="+14155550142",
            )
        ]
    )
    existing = pd.concat([identity_dataset.people().drop(columns=["source"], errors="ignore"), existing])
    new = pd.DataFrame(
        [
            _lead(
                "evt_again",
                source="webinar",
                email_key="  Robert.Hallworth+webinar@NORTHWIND.IO ",
                email_domain="northwind.io",
                first_name_normalized="BOB",
                last_name_normalized="hallworth",
                company_normalized="Northwind, Inc.",
                country_code="us",
            )
        ]
    )

    scores = score_people(new, existing)

    row = scores.iloc[0]
    assert (row["candidate_id"], row["decision"]) == ("evt_first", "linked")
    assert row["match_probability"] >= 0.95


def test_repeat_submission_within_one_batch_links_to_the_earlier_record() -> None:
    first = _lead(
        "evt_1",
        email_key="liz.moreau@gmail.com",
        first_name_normalized="Elizabeth",
        last_name_normalized="Moreau",
        phone_e164="+33612345678",
        country_code="FR",
    )
    second = _lead(
        "evt_2",
        email_key="lizmoreau@gmail.com",
        first_name_normalized="Liz",
        last_name_normalized="Moreau",
        phone_e164="+33612345678",
        country_code="FR",
    )
    stranger = _lead(
        "evt_3",
        email_key="p.nowak@example.pl",
        first_name_normalized="Piotr",
        last_name_normalized="Nowak",
        country_code="PL",
    )
    scores = score_people(pd.DataFrame([first, second, stranger]), pd.DataFrame([], columns=list(first)))

    assert list(scores["decision"]) == ["new", "linked", "new"]
    assert scores.loc[1, "candidate_id"] == "evt_1" and scores.loc[1, "candidate_source"] == "batch"


def test_free_mail_lead_naming_a_known_company_goes_to_review_with_candidate_not_linked(
    identity_dataset,
) -> None:
    account = identity_dataset.accounts.iloc[0]
    lead = _lead(
        "evt_freemail",
        email_key="sam.jones1987@gmail.com",
        email_domain="gmail.com",
        is_free_email=True,
        first_name_normalized="Sam",
        last_name_normalized="Jones",
        company_normalized=account["name"].upper(),
        country_code=account["country"],
    )

    scores = score_accounts(pd.DataFrame([lead]), identity_dataset.accounts, identity_dataset.account_domains)

    row = scores.iloc[0]
    assert row["decision"] == "review"
    assert row["candidate_id"] == account["account_id"]
    assert row["match_method"] == "company_name_only"
    assert 0.60 <= row["match_probability"] < 0.95


def test_name_only_match_is_never_auto_linked_even_with_a_low_auto_link_threshold(identity_dataset) -> None:
    account = identity_dataset.accounts.iloc[0]
    lead = _lead(
        "evt_freemail",
        email_key="x@gmail.com",
        email_domain="gmail.com",
        is_free_email=True,
        company_normalized=account["name"],
        country_code=account["country"],
    )
    scores = score_accounts(
        pd.DataFrame([lead]),
        identity_dataset.accounts,
        identity_dataset.account_domains,
        auto_link=0.61,
        review=0.6,
    )
    assert scores.loc[0, "decision"] == "review"


def test_lead_at_an_alias_domain_is_linked_to_its_account(identity_dataset) -> None:
    alias = identity_dataset.account_domains.query("~is_primary").iloc[0]
    name = identity_dataset.accounts.set_index("account_id").loc[alias["account_id"], "name"]
    lead = _lead(
        "evt_alias",
        email_key=f"Kim.Ito@{alias['domain'].upper()}",
        email_domain=alias["domain"],
        company_normalized=f"{name.upper()}, Inc.",
    )
    scores = score_accounts(pd.DataFrame([lead]), identity_dataset.accounts, identity_dataset.account_domains)
    assert (scores.loc[0, "candidate_id"], scores.loc[0, "decision"]) == (alias["account_id"], "linked")


def test_lead_whose_only_evidence_is_its_business_domain_is_linked(identity_dataset) -> None:
    # No company, and a country other than the account's (people work abroad, forms ask for HQ): the
    # business domain alone identifies the employer. Before the prior fix this scored p = 0.32.
    account = identity_dataset.accounts.iloc[1]
    other_country = "JP" if account["country"] != "JP" else "BR"
    lead = _lead(
        "evt_domain_only",
        email_key=f"kim.ito@{account['domain']}",
        email_domain=account["domain"],
        country_code=other_country,
    )
    scores = score_accounts(pd.DataFrame([lead]), identity_dataset.accounts, identity_dataset.account_domains)
    assert (scores.loc[0, "candidate_id"], scores.loc[0, "decision"]) == (account["account_id"], "linked")
    assert scores.loc[0, "match_method"] == "domain"


def test_domain_held_by_two_accounts_goes_to_review_instead_of_a_tie_break(identity_dataset) -> None:
    account = identity_dataset.accounts.iloc[2]
    twin = account.copy()
    twin["account_id"] = "acc_twin"
    accounts = pd.concat([identity_dataset.accounts, twin.to_frame().T], ignore_index=True)
    domains = pd.concat(
        [
            identity_dataset.account_domains,
            pd.DataFrame([{"account_id": "acc_twin", "domain": account["domain"], "is_primary": True}]),
        ],
        ignore_index=True,
    )
    lead = _lead(
        "evt_shared_domain",
        email_key=f"kim.ito@{account['domain']}",
        email_domain=account["domain"],
        company_normalized=account["name"],
        country_code=account["country"],
    )
    alone = score_accounts(pd.DataFrame([lead]), identity_dataset.accounts, identity_dataset.account_domains)
    shared = score_accounts(pd.DataFrame([lead]), accounts, domains)

    assert alone.loc[0, "decision"] == "linked"
    assert shared.loc[0, "decision"] == "review"
    assert shared.loc[0, "candidate_id"] in {account["account_id"], "acc_twin"}


def test_duplicate_record_ids_are_refused_with_a_clear_error() -> None:
    rows = pd.DataFrame([_lead("evt_1", email_key="a@b.com"), _lead("evt_1", email_key="c@d.com")])
    with pytest.raises(IdentityInputError, match="duplicate ids"):
        score_people(rows, rows.iloc[:0])


def test_missing_columns_are_refused_with_a_clear_error() -> None:
    with pytest.raises(IdentityInputError, match="missing column"):
        score_people(pd.DataFrame({"record_id": ["x"]}), pd.DataFrame({"record_id": []}))


def test_cluster_keeps_the_smallest_existing_person_id_and_reports_the_merge() -> None:
    pairs = pd.DataFrame(
        {
            "new_record_id": ["evt_9", "evt_9", "evt_10"],
            "candidate_id": ["con_1", "evt_5", "evt_9"],
            "match_probability": [0.99, 0.97, 0.96],
        }
    )
    existing = {"con_1": "per_b", "evt_5": "per_a"}

    clusters = cluster_people(["evt_9", "evt_10", "evt_11"], pairs, existing)

    by_record = clusters.set_index("record_id")
    assert by_record.loc[["evt_9", "evt_10"], "person_id"].tolist() == ["per_a", "per_a"]
    assert by_record.loc["con_1", ["person_id", "previous_person_id"]].tolist() == ["per_a", "per_b"]
    assert "evt_5" not in by_record.index  # unchanged existing records are not repeated
    lone = by_record.loc["evt_11", "person_id"]
    assert lone.startswith("per_") and lone == cluster_people(["evt_11"], pairs.iloc[:0], {})["person_id"][0]


def test_person_history_closes_the_old_id_and_opens_the_new_one_on_merge() -> None:
    t0, t1 = datetime(2025, 1, 1), datetime(2025, 2, 1)
    history = pd.DataFrame(
        {"record_id": ["con_1"], "person_id": ["per_b"], "valid_from": [t0], "valid_to": [pd.NaT]}
    )
    assignments = pd.DataFrame({"record_id": ["con_1", "evt_9"], "person_id": ["per_a", "per_a"]})

    updated = apply_person_assignments(history, assignments, t1)

    closed = updated[(updated["record_id"] == "con_1") & updated["valid_to"].notna()]
    assert closed["person_id"].tolist() == ["per_b"] and closed["valid_to"].tolist() == [t1]
    open_rows = updated[updated["valid_to"].isna()].set_index("record_id")["person_id"].to_dict()
    assert open_rows == {"con_1": "per_a", "evt_9": "per_a"}
    assert len(apply_person_assignments(updated, assignments, t1)) == len(updated)  # idempotent


def test_dedupe_prior_falls_with_the_population_and_is_never_raised() -> None:
    assert population_adjusted_prior(0.001, 1_001, 100_001) == pytest.approx(0.001 * 1_000 / 100_000)
    assert population_adjusted_prior(0.001, 1_001, 500) == 0.001
    assert population_adjusted_prior(0.001, 1_001, 1_001) == 0.001


def test_scoring_a_larger_population_than_the_training_set_lowers_every_match_weight_by_the_prior_ratio(
    identity_dataset, tmp_path: Path
) -> None:
    people = identity_dataset.people()
    new, existing = people.iloc[-100:], people.iloc[:-100]
    model = tmp_path / "person_model.json"
    shutil.copy(PERSON_MODEL_PATH, model)
    as_trained = person_candidate_pairs(new, existing, model, min_probability=0.01)
    training_info_path(model).write_text(json.dumps({"training_records": 100}))
    rescaled = person_candidate_pairs(new, existing, model, min_probability=0.01)

    prior = json.loads(model.read_text())["probability_two_random_records_match"]
    lowered = population_adjusted_prior(prior, 100, len(people))
    expected_shift = math.log2(prior / (1 - prior)) - math.log2(lowered / (1 - lowered))
    joined = as_trained.merge(
        rescaled, on=["new_record_id", "candidate_id"], suffixes=("_trained", "_rescaled")
    )
    assert len(joined) > 0
    shift = joined["match_weight_trained"] - joined["match_weight_rescaled"]
    assert shift.to_numpy() == pytest.approx(expected_shift, abs=1e-6)
