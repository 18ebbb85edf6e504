"""Identity quality on labeled synthetic data: pairwise person-dedupe P/R/F1 and account-match P/R.

Targets (docs): person-dedupe F1 >= 0.97; account matching precision >= 0.995 at recall >= 0.95.
`leadops eval identity` prints `evaluate_identity().format()`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset
from assets.identity.scoring import Thresholds, dedupe_people, score_accounts
from assets.identity.settings import ACCOUNT_MODEL_PATH, PERSON_MODEL_PATH

PERSON_F1_TARGET = 0.97
ACCOUNT_PRECISION_TARGET = 0.995
ACCOUNT_RECALL_TARGET = 0.95
# Evaluate on a seed the shipped models were not trained on (training uses seed 7).
EVALUATION_SEED = 20_251_125


class PairwiseScores(BaseModel):
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


class AccountScores(BaseModel):
    leads: int
    leads_with_account: int
    linked: int
    linked_correct: int
    reviewed: int
    reviewed_correct: int
    name_only_reviewed: int

    @property
    def precision(self) -> float:
        return self.linked_correct / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.linked_correct / self.leads_with_account if self.leads_with_account else 1.0

    @property
    def recall_with_review(self) -> float:
        """Share of leads with an account whose right account is linked or offered for review."""
        found = self.linked_correct + self.reviewed_correct
        return found / self.leads_with_account if self.leads_with_account else 1.0


class IdentityEvaluation(BaseModel):
    seed: int
    records: int
    thresholds: Thresholds
    person_clusters: PairwiseScores
    person_edges: PairwiseScores
    accounts: AccountScores
    seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.person_clusters.f1 >= PERSON_F1_TARGET
            and self.accounts.precision >= ACCOUNT_PRECISION_TARGET
            and self.accounts.recall >= ACCOUNT_RECALL_TARGET
        )

    def format(self) -> str:
        pc, pe, a = self.person_clusters, self.person_edges, self.accounts

        def mark(ok: bool) -> str:
            return "ok  " if ok else "MISS"

        return "\n".join(
            [
                f"identity evaluation: {self.records:,} labeled records, seed {self.seed}, "
                f"auto_link {self.thresholds.auto_link}, review {self.thresholds.review} "
                f"({self.seconds:.1f} s)",
                f"  person dedupe (clusters)  P {pc.precision:.4f}  R {pc.recall:.4f}  F1 {pc.f1:.4f}  "
                f"[{mark(pc.f1 >= PERSON_F1_TARGET)} target F1 >= {PERSON_F1_TARGET}]  "
                f"pairs true {pc.true_pairs:,} predicted {pc.predicted_pairs:,}",
                f"  person dedupe (edges)     P {pe.precision:.4f}  R {pe.recall:.4f}  F1 {pe.f1:.4f}",
                f"  account match (linked)    P {a.precision:.4f}  R {a.recall:.4f}  "
                f"[{mark(a.precision >= ACCOUNT_PRECISION_TARGET and a.recall >= ACCOUNT_RECALL_TARGET)} "
                f"target P >= {ACCOUNT_PRECISION_TARGET} at R >= {ACCOUNT_RECALL_TARGET}]",
                f"  account match (+review)   R {a.recall_with_review:.4f}  review {a.reviewed:,} "
                f"(right account {a.reviewed_correct:,}, name-only {a.name_only_reviewed:,}) "
                f"of {a.leads_with_account:,} leads with an account, {a.leads:,} leads",
                f"  overall: {'PASS' if self.passed else 'FAIL'}",
            ]
        )


def _pairs_within(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def cluster_pairwise_scores(truth: pd.Series, predicted: pd.Series) -> PairwiseScores:
    """Pairwise scores of a clustering: pairs in the same predicted cluster vs same true cluster.

    `truth` and `predicted` are aligned per record. Counted from cluster sizes, never by listing pairs.
    """
    frame = pd.DataFrame({"truth": truth.to_numpy(), "predicted": predicted.to_numpy()})
    return PairwiseScores(
        true_pairs=_pairs_within(frame.groupby("truth").size()),
        predicted_pairs=_pairs_within(frame.groupby("predicted").size()),
        correct_pairs=_pairs_within(frame.groupby(["truth", "predicted"]).size()),
    )


def edge_pairwise_scores(
    pairs: pd.DataFrame, truth_by_record: pd.Series, left: str = "record_id_l", right: str = "record_id_r"
) -> PairwiseScores:
    """Pairwise scores of predicted edges (before transitive closure) against true entity ids."""
    correct = int((pairs[left].map(truth_by_record) == pairs[right].map(truth_by_record)).sum())
    return PairwiseScores(
        true_pairs=_pairs_within(truth_by_record.value_counts()),
        predicted_pairs=len(pairs),
        correct_pairs=correct,
    )


def account_scores(scores: pd.DataFrame, leads: pd.DataFrame) -> AccountScores:
    frame = scores.merge(
        leads[["record_id", "true_account_id"]], left_on="new_record_id", right_on="record_id", how="left"
    )
    right = frame["candidate_id"] == frame["true_account_id"]
    linked, review = frame["decision"] == "linked", frame["decision"] == "review"
    return AccountScores(
        leads=len(frame),
        leads_with_account=int(frame["true_account_id"].notna().sum()),
        linked=int(linked.sum()),
        linked_correct=int((linked & right).sum()),
        reviewed=int(review.sum()),
        reviewed_correct=int((review & right).sum()),
        name_only_reviewed=int((review & (frame["match_method"] == "company_name_only")).sum()),
    )


def evaluate_identity(
    dataset: IdentityDataset | None = None,
    *,
    person_model_path: Path = PERSON_MODEL_PATH,
    account_model_path: Path = ACCOUNT_MODEL_PATH,
    auto_link: float = 0.95,
    review: float = 0.60,
    seed: int = EVALUATION_SEED,
) -> IdentityEvaluation:
    """Score a labeled data set (default: the generator at `seed`) with the saved models."""
    started = time.perf_counter()
    dataset = dataset or generate_identity_dataset(GeneratorConfig(seed=seed))
    thresholds = Thresholds(auto_link=auto_link, review=review)
    people = dataset.people()
    pairs, clusters = dedupe_people(people, person_model_path, threshold=auto_link)
    truth = people.set_index(people["record_id"].astype(str))["true_person_id"]
    clusters = clusters.assign(truth=clusters["record_id"].map(truth))
    accounts = score_accounts(
        dataset.leads,
        dataset.accounts,
        dataset.account_domains,
        account_model_path,
        auto_link=auto_link,
        review=review,
    )
    return IdentityEvaluation(
        seed=seed,
        records=len(people),
        thresholds=thresholds,
        person_clusters=cluster_pairwise_scores(clusters["truth"], clusters["cluster_id"]),
        person_edges=edge_pairwise_scores(pairs, truth),
        accounts=account_scores(accounts, dataset.leads),
        seconds=time.perf_counter() - started,
    )
