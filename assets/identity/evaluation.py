"""Identity quality on labeled synthetic data: pairwise person-dedupe P/R/F1 and account-match P/R.

Targets (docs): person-dedupe F1 >= 0.97; account matching precision >= 0.995 at recall >= 0.95.
`leadops eval identity` prints `evaluate_identity().format()`.

What the account recall counts: a free-mail lead without a website can only be matched by its company
name, and such a match is never auto-linked by policy (it goes to review). The auto-link recall target is
therefore measured over the leads where an auto-link is allowed: leads with a CRM account that carry a
company domain (business email domain or website). Name-only leads are reported apart: how many had their
right account offered for review, and that none was auto-linked (any auto-link there fails the report).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from pydantic import BaseModel
from rapidfuzz.distance import JaroWinkler

from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset
from assets.identity.prepare import company_key, country_key, domain_key, prepare_lead_accounts
from assets.identity.rules import domain_owners
from assets.identity.scoring import (
    Thresholds,
    cluster_people,
    dedupe_people,
    person_candidate_pairs,
    score_accounts,
)
from assets.identity.splink_models import ACCOUNT_MODEL_PATH, PERSON_MODEL_PATH
from common.domains import email_key

PERSON_F1_TARGET = 0.97
ACCOUNT_PRECISION_TARGET = 0.995
ACCOUNT_RECALL_TARGET = 0.95
# Known contacts: a lead whose email key equals its CRM contact's is linked to that contact.
CONTACT_LINK_RECALL_TARGET = 0.99
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
    """Account matching outcome counts. "Domain leads" carry a company domain (auto-link allowed);
    "name-only leads" are free-mail leads without a website (review at best)."""

    leads: int
    leads_with_account: int
    linked: int
    linked_correct: int
    reviewed: int
    reviewed_correct: int
    name_only_reviewed: int
    domain_leads_with_account: int = 0
    domain_linked_correct: int = 0
    name_only_with_account: int = 0
    name_only_reviewed_correct: int = 0
    name_only_linked: int = 0
    # Leads with an account whose right account was not auto-linked (domain leads) or not offered for
    # review (name-only leads), counted by what made them hard; one lead can have several causes.
    domain_misses_by_case: dict[str, int] = {}
    name_only_misses_by_case: dict[str, int] = {}

    @property
    def precision(self) -> float:
        return self.linked_correct / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        """Auto-linked right account over ALL leads with an account, name-only leads included."""
        return self.linked_correct / self.leads_with_account if self.leads_with_account else 1.0

    @property
    def auto_link_recall(self) -> float:
        """Auto-linked right account over the leads with an account that carry a company domain: the
        leads where an auto-link is allowed. This is the recall the target is measured on."""
        if not self.domain_leads_with_account:
            return 1.0
        return self.domain_linked_correct / self.domain_leads_with_account

    @property
    def name_only_review_recall(self) -> float:
        if not self.name_only_with_account:
            return 1.0
        return self.name_only_reviewed_correct / self.name_only_with_account

    @property
    def recall_with_review(self) -> float:
        """Share of leads with an account whose right account is linked or offered for review."""
        found = self.linked_correct + self.reviewed_correct
        return found / self.leads_with_account if self.leads_with_account else 1.0

    @property
    def passed(self) -> bool:
        return (
            self.precision >= ACCOUNT_PRECISION_TARGET
            and self.auto_link_recall >= ACCOUNT_RECALL_TARGET
            and self.name_only_linked == 0
        )


class ContactLinkScores(BaseModel):
    """Leads of people already in the CRM as contacts, scored the way the pipeline does (new leads against
    the contacts, resolve.resolve_batch's rules included). `labelled` are those whose email key equals
    their contact's (phone, `+tags` and case may differ); `linked` ended up with their own contact."""

    labelled: int
    linked: int
    all_contact_leads: int
    all_linked: int

    @property
    def recall(self) -> float:
        return self.linked / self.labelled if self.labelled else 1.0

    @property
    def all_recall(self) -> float:
        return self.all_linked / self.all_contact_leads if self.all_contact_leads else 1.0


class IdentityEvaluation(BaseModel):
    seed: int
    records: int
    thresholds: Thresholds
    person_clusters: PairwiseScores
    person_edges: PairwiseScores
    accounts: AccountScores
    contacts: ContactLinkScores
    seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.person_clusters.f1 >= PERSON_F1_TARGET
            and self.accounts.passed
            and self.contacts.recall >= CONTACT_LINK_RECALL_TARGET
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
                f"  contact link, same email key: R {self.contacts.recall:.4f} "
                f"({self.contacts.linked:,} of {self.contacts.labelled:,})  "
                f"[{mark(self.contacts.recall >= CONTACT_LINK_RECALL_TARGET)} target R >= "
                f"{CONTACT_LINK_RECALL_TARGET}]; all leads of contacts R {self.contacts.all_recall:.4f} "
                f"({self.contacts.all_linked:,} of {self.contacts.all_contact_leads:,})",
                f"  account match, domain leads (auto-link allowed): P {a.precision:.4f}  "
                f"R {a.auto_link_recall:.4f} "
                f"({a.domain_linked_correct:,} of {a.domain_leads_with_account:,})  "
                f"[{mark(a.passed)} target P >= {ACCOUNT_PRECISION_TARGET} at R >= {ACCOUNT_RECALL_TARGET}]",
                f"  account match, name-only leads (free mail, no website; review only): right account in "
                f"review {a.name_only_reviewed_correct:,} of {a.name_only_with_account:,} "
                f"({a.name_only_review_recall:.4f}), auto-linked {a.name_only_linked} [must be 0]",
                f"  account match, all leads: linked R {a.recall:.4f}, linked or in review R "
                f"{a.recall_with_review:.4f}; review {a.reviewed:,} (right account {a.reviewed_correct:,}, "
                f"name-only {a.name_only_reviewed:,}); {a.leads_with_account:,} of {a.leads:,} leads have "
                "an account",
                f"  domain leads not auto-linked, by case: {_cases(a.domain_misses_by_case)}",
                f"  name-only leads not in review, by case: {_cases(a.name_only_misses_by_case)}",
                f"  overall: {'PASS' if self.passed else 'FAIL'}",
            ]
        )


def _cases(counts: dict[str, int]) -> str:
    return ", ".join(f"{case} {count}" for case, count in counts.items()) or "none"


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


def _lead_cases(lead: pd.Series, account: pd.Series | None, account_domains: frozenset[str]) -> list[str]:
    """What makes one lead's account hard to find, from its prepared columns and the true account."""
    cases = []
    if lead["email_domain"] is None and lead["website_domain"] is None:
        cases.append("name only")
    elif lead["email_domain"] is None:
        cases.append("website only")
    elif lead["email_domain"] not in account_domains:
        cases.append("email domain not the account's")
    elif account is not None and lead["email_domain"] != domain_key(account["domain"]):
        cases.append("alias domain")
    if account is None:
        return cases
    account_key = company_key(account["name"])
    if lead["company_key"] is None:
        cases.append("company missing")
    elif lead["company_key"] != account_key:
        # 0.8: the lowest Jaro-Winkler level of the company comparison; below it the name is another one.
        similar = account_key is not None and JaroWinkler.similarity(lead["company_key"], account_key) >= 0.8
        cases.append("company variant/typo" if similar else "other company named")
    if lead["country_code"] is None:
        cases.append("country missing")
    elif lead["country_code"] != country_key(account["country"]):
        cases.append("country differs")
    return cases


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def account_scores(
    scores: pd.DataFrame,
    leads: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    account_domains: pd.DataFrame | None = None,
) -> AccountScores:
    """Outcome counts of score_accounts against `leads.true_account_id`. With `accounts` and
    `account_domains`, the misses are also broken down by case (AccountScores.misses_by_case)."""
    prepared = prepare_lead_accounts(leads, "leads").set_index("record_id")
    frame = scores.merge(
        leads[["record_id", "true_account_id"]], left_on="new_record_id", right_on="record_id", how="left"
    )
    frame["has_domain"] = (
        frame["new_record_id"].map(prepared["email_domain"].notna() | prepared["website_domain"].notna())
    ).astype(bool)
    right = frame["candidate_id"] == frame["true_account_id"]
    has_account = frame["true_account_id"].notna()
    linked, review = frame["decision"] == "linked", frame["decision"] == "review"
    domain_lead, name_only_lead = frame["has_domain"], ~frame["has_domain"]

    misses: dict[bool, dict[str, int]] = {True: {}, False: {}}
    if accounts is not None and account_domains is not None:
        by_id = accounts.set_index(accounts["account_id"].astype(str))
        domains_by_account = (
            account_domains.assign(domain=account_domains["domain"].map(domain_key))
            .groupby(account_domains["account_id"].astype(str))["domain"]
            .agg(frozenset)
        )
        missed = has_account & ((domain_lead & ~(linked & right)) | (name_only_lead & ~(review & right)))
        for record_id, account_id, has_domain in zip(
            frame.loc[missed, "new_record_id"],
            frame.loc[missed, "true_account_id"],
            frame.loc[missed, "has_domain"],
            strict=True,
        ):
            account = by_id.loc[account_id] if account_id in by_id.index else None
            cases = _lead_cases(
                prepared.loc[record_id], account, domains_by_account.get(account_id, frozenset())
            )
            counts = misses[bool(has_domain)]
            for case in [c for c in cases if c != "name only"] or ["none of the known cases"]:
                counts[case] = counts.get(case, 0) + 1
    return AccountScores(
        leads=len(frame),
        leads_with_account=int(has_account.sum()),
        linked=int(linked.sum()),
        linked_correct=int((linked & right).sum()),
        reviewed=int(review.sum()),
        reviewed_correct=int((review & right).sum()),
        name_only_reviewed=int((review & (frame["match_method"] == "company_name_only")).sum()),
        domain_leads_with_account=int((has_account & domain_lead).sum()),
        domain_linked_correct=int((domain_lead & linked & right).sum()),
        name_only_with_account=int((has_account & name_only_lead).sum()),
        name_only_reviewed_correct=int((name_only_lead & review & right).sum()),
        name_only_linked=int((name_only_lead & linked).sum()),
        domain_misses_by_case=_by_count(misses[True]),
        name_only_misses_by_case=_by_count(misses[False]),
    )


def contact_link_scores(
    dataset: IdentityDataset,
    person_model_path: Path = PERSON_MODEL_PATH,
    *,
    auto_link: float = 0.95,
    review: float = 0.60,
) -> ContactLinkScores:
    """Score every lead against the CRM contacts as one pipeline batch and count contact links."""
    contacts = dataset.contacts.assign(record_id="contact:" + dataset.contacts["record_id"].astype(str))
    pairs = person_candidate_pairs(
        dataset.leads,
        contacts,
        person_model_path,
        min_probability=review,
        contact_ids=set(contacts["record_id"]),
        domain_owners=domain_owners(dataset.account_domains),
    )
    contact_person = {record_id: f"person_of_{record_id}" for record_id in contacts["record_id"]}
    clusters = cluster_people(
        dataset.leads["record_id"].astype(str), pairs, contact_person, auto_link=auto_link
    )
    person_of = {**contact_person, **dict(zip(clusters["record_id"], clusters["person_id"], strict=True))}
    contact_of = dict(zip(contacts["true_person_id"], contacts["record_id"], strict=True))
    key_of = dict(zip(contacts["record_id"], contacts["email_key"].map(email_key), strict=True))
    labelled = linked = every = every_linked = 0
    for record_id, person, address in zip(
        dataset.leads["record_id"].astype(str),
        dataset.leads["true_person_id"],
        dataset.leads["email_key"],
        strict=True,
    ):
        contact = contact_of.get(person)
        if contact is None:
            continue
        hit = person_of.get(record_id) == contact_person[contact]
        every, every_linked = every + 1, every_linked + hit
        if email_key(address) is not None and email_key(address) == key_of[contact]:
            labelled, linked = labelled + 1, linked + hit
    return ContactLinkScores(
        labelled=labelled, linked=linked, all_contact_leads=every, all_linked=every_linked
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
    pairs, clusters = dedupe_people(
        people, person_model_path, threshold=auto_link, domain_owners=domain_owners(dataset.account_domains)
    )
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
        accounts=account_scores(accounts, dataset.leads, dataset.accounts, dataset.account_domains),
        contacts=contact_link_scores(dataset, person_model_path, auto_link=auto_link, review=review),
        seconds=time.perf_counter() - started,
    )
