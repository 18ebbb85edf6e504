from __future__ import annotations

import pandas as pd

from assets.identity.evaluation import (
    ACCOUNT_PRECISION_TARGET,
    ACCOUNT_RECALL_TARGET,
    PERSON_F1_TARGET,
    account_scores,
    cluster_pairwise_scores,
    evaluate_identity,
)


def test_cluster_pairwise_scores_count_pairs_from_cluster_sizes() -> None:
    truth = pd.Series(["a", "a", "a", "b", "b"])
    predicted = pd.Series([1, 1, 2, 2, 2])
    scores = cluster_pairwise_scores(truth, predicted)
    # true pairs: 3 (a) + 1 (b); predicted: 1 + 3; correct: (a,1)=1, (b,2)=1.
    assert (scores.true_pairs, scores.predicted_pairs, scores.correct_pairs) == (4, 4, 2)
    assert scores.f1 == 0.5


def test_shipped_models_meet_person_and_account_targets_on_unseen_labeled_data(identity_dataset) -> None:
    report = evaluate_identity(identity_dataset)

    assert report.person_clusters.f1 >= PERSON_F1_TARGET, report.format()
    assert report.accounts.precision >= ACCOUNT_PRECISION_TARGET, report.format()
    assert report.accounts.auto_link_recall >= ACCOUNT_RECALL_TARGET, report.format()
    # Name-only matches never auto-link, whatever the scores.
    assert report.accounts.name_only_with_account > 0 and report.accounts.name_only_linked == 0
    assert report.accounts.recall_with_review >= 0.95, report.format()
    assert report.passed, report.format()
    assert "name-only leads" in report.format()


def test_account_recall_counts_domain_leads_apart_and_a_linked_name_only_lead_fails_the_report() -> None:
    leads = pd.DataFrame(
        {
            "record_id": ["a", "b", "c", "d"],
            "email_key": ["x@acme.com", "y@acme.com", "z@gmail.com", "w@gmail.com"],
            "email_domain": ["acme.com", "acme.com", "gmail.com", "gmail.com"],
            "is_free_email": [False, False, True, True],
            "company_normalized": ["acme", "acme", "acme", "acme"],
            "website_domain": [None, None, None, None],
            "country_code": ["US", "US", "US", "US"],
            "true_account_id": ["acc_1", "acc_1", "acc_1", "acc_1"],
        }
    )
    scores = pd.DataFrame(
        {
            "new_record_id": ["a", "b", "c", "d"],
            "candidate_id": ["acc_1", None, "acc_1", "acc_1"],
            "match_method": ["domain", None, "company_name_only", "company_name_only"],
            "decision": ["linked", "new", "review", "linked"],
        }
    )
    accounts = pd.DataFrame(
        {"account_id": ["acc_1"], "name": ["Acme Inc."], "domain": ["acme.com"], "country": ["US"]}
    )
    domains = pd.DataFrame({"account_id": ["acc_1"], "domain": ["acme.com"]})

    result = account_scores(scores, leads, accounts, domains)

    assert (result.domain_leads_with_account, result.domain_linked_correct) == (2, 1)
    assert result.auto_link_recall == 0.5
    assert (result.name_only_with_account, result.name_only_reviewed_correct, result.name_only_linked) == (
        2,
        1,
        1,
    )
    assert result.domain_misses_by_case == {"none of the known cases": 1}
    assert not result.passed
