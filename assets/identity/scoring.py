"""Score new leads against existing people and CRM accounts with the saved models (never retrains).

People: new records are linked to existing records (CRM contacts, earlier leads) with
`predict_between` and to earlier records of the same batch with `predict_within`; each new record keeps
its best candidate. Accounts: leads are linked to one row per (account, domain) and keep the best
account. Decisions: `linked` (>= auto_link), `review` (>= review), `new`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pydantic import BaseModel, model_validator
from splink import DuckDBAPI, Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from assets.identity.guards import (
    DEFAULT_MAX_CANDIDATE_PAIRS,
    candidate_pair_upper_bound,
    candidate_pair_volume_result,
    oversized_blocking_keys,
)
from assets.identity.prepare import (
    IdentityInputError,
    prepare_accounts,
    prepare_lead_accounts,
    prepare_people,
)
from assets.identity.rules import RULE_PROBABILITY, exact_contact_links, pair_hold_reasons
from assets.identity.splink_models import (
    ACCOUNT_MODEL_PATH,
    NAME_ONLY_PRIOR_PENALTY_BITS,
    PERSON_MODEL_PATH,
    training_info_path,
)

PERSON_SCORE_COLUMNS = [
    "new_record_id",
    "candidate_id",
    "candidate_source",
    "match_probability",
    "match_weight",
    "decision",
    "hold_reason",
]
PAIR_COLUMNS = [
    "new_record_id",
    "candidate_id",
    "candidate_source",
    "match_probability",
    "match_weight",
    "hold_reason",
]
ACCOUNT_SCORE_COLUMNS = [
    "new_record_id",
    "candidate_id",
    "match_method",
    "match_probability",
    "match_weight",
    "decision",
]


class Thresholds(BaseModel):
    auto_link: float = 0.95
    review: float = 0.60

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not 0.0 < self.review <= self.auto_link <= 1.0:
            raise ValueError(
                f"need 0 < review <= auto_link <= 1, got review={self.review}, auto_link={self.auto_link}"
            )
        return self

    def decide(self, probability: float | None) -> str:
        if probability is None or pd.isna(probability):
            return "new"
        if probability >= self.auto_link:
            return "linked"
        return "review" if probability >= self.review else "new"


@contextmanager
def _splink_session() -> Iterator[DuckDBAPI]:
    """One private in-memory DuckDB per call: scoring never touches the warehouse file (single writer)."""
    con = duckdb.connect()
    try:
        yield DuckDBAPI(con)
    finally:
        con.close()


def population_adjusted_prior(prior: float, training_records: int, population: int) -> float:
    """Dedupe prior for `population` records from one estimated on `training_records` records.

    The prior is the chance that two random records are the same person. Each person has a handful of
    records whatever the table size, so matching pairs grow like N while all pairs grow like N²: the
    prior falls like 1/N. Scored unchanged on 1M records, the prior trained on 3.6k was ~280x too high
    and cluster precision fell to 0.72 (F1 0.83); rescaled, P 0.996 / R 0.925 / F1 0.959. Only ever
    lowered: a population smaller than the training set keeps the trained prior (no extra links).
    """
    if population <= training_records or training_records < 2:
        return prior
    return prior * (training_records - 1) / (population - 1)


def _load_linker(table: SplinkDataFrame, model_path: Path, *, population: int | None = None) -> Linker:
    """Linker from the saved model; with `population`, the prior is rescaled to that many records when
    the model has training facts beside it (settings.training_info_path)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(
            f"identity model not found at {model_path}; run `python -m assets.identity.training`"
        )
    info_path = training_info_path(model_path)
    if population is None or not info_path.is_file():
        return Linker(table, str(model_path), log_level=None)
    model = json.loads(model_path.read_text(encoding="utf-8"))
    training_records = int(json.loads(info_path.read_text(encoding="utf-8"))["training_records"])
    model["probability_two_random_records_match"] = population_adjusted_prior(
        model["probability_two_random_records_match"], training_records, population
    )
    return Linker(table, model, log_level=None)


def _model_blocking_rules(model_path: Path) -> list[dict[str, Any] | str]:
    """Blocking rules as saved in the model JSON (the rules predict will use)."""
    return json.loads(Path(model_path).read_text(encoding="utf-8"))["blocking_rules_to_generate_predictions"]


def _guard_volume(count: int, limit: int | None, what: str) -> None:
    if limit is not None:
        candidate_pair_volume_result(count, limit, what).raise_if_failed()


def _predictions(sdf: SplinkDataFrame, columns: list[str]) -> pd.DataFrame:
    frame = sdf.as_pandas_dataframe()
    sdf.drop_table_from_database_and_remove_from_cache()
    return frame[columns]


def person_candidate_pairs(
    new_records: pd.DataFrame,
    existing_records: pd.DataFrame,
    model_path: Path = PERSON_MODEL_PATH,
    *,
    min_probability: float = 0.60,
    max_candidate_pairs: int | None = DEFAULT_MAX_CANDIDATE_PAIRS,
    contact_ids: Collection[str] = (),
    domain_owners: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Every scored pair >= min_probability: (new_record_id, candidate_id, candidate_source, match_*,
    hold_reason).

    Within the batch, the candidate is always the earlier record (input row order is arrival order), so
    each pair appears once. Raises GuardRailError before predicting when blocking could make more than
    `max_candidate_pairs` pairs (guards.candidate_pair_upper_bound).

    `hold_reason` is set on pairs that must never auto-link whatever their probability (rules.hold_reason:
    confusable addresses, names only across domains). Existing records listed in `contact_ids` are CRM
    contacts: a new record with the same email key and an agreeing name links to one by rule
    (rules.exact_contact_links, probability RULE_PROBABILITY, match_weight NaN). `domain_owners` maps
    domains to CRM accounts (rules.domain_owners) so an account's alias domains count as one.
    """
    new = prepare_people(new_records, "new records")
    existing = prepare_people(existing_records, "existing records")
    overlap = set(new["record_id"]) & set(existing["record_id"])
    if overlap:
        raise IdentityInputError(f"record ids are both new and existing, e.g. {sorted(overlap)[:5]}")
    arrival = {record_id: position for position, record_id in enumerate(new["record_id"])}

    with _splink_session() as db_api:
        new_sdf = db_api.register(new, table_name="new_records")
        existing_sdf = db_api.register(existing, table_name="existing_records")
        linker = _load_linker(new_sdf, model_path, population=len(new) + len(existing))
        rules = _model_blocking_rules(model_path)
        if max_candidate_pairs is not None:
            count = candidate_pair_upper_bound(new_sdf, rules, "dedupe_only")
            if len(existing):
                count += candidate_pair_upper_bound([new_sdf, existing_sdf], rules, "link_only")
            _guard_volume(
                count, max_candidate_pairs, f"{len(new):,} new vs {len(existing):,} existing records"
            )

        columns = ["record_id_l", "record_id_r", "match_probability", "match_weight"]
        frames = [
            _predictions(
                linker.inference.predict_within(
                    new_sdf, threshold_match_probability=min_probability, warning_mode="never"
                ),
                columns,
            ).assign(candidate_source="batch")
        ]
        if len(existing):
            frames.append(
                _predictions(
                    linker.inference.predict_between(
                        new_sdf,
                        existing_sdf,
                        threshold_match_probability=min_probability,
                        warning_mode="never",
                    ),
                    columns,
                ).assign(candidate_source="existing")
            )
    pairs = pd.concat(frames, ignore_index=True)
    pairs["hold_reason"] = pair_hold_reasons(
        pairs, pd.concat([new, existing], ignore_index=True), "record_id_l", "record_id_r", domain_owners
    )
    # Orient every pair as (new record, candidate): the candidate is the existing record, or within the
    # batch the one that arrived first.
    position_l = pairs["record_id_l"].map(arrival)
    position_r = pairs["record_id_r"].map(arrival)
    left_is_new = position_l.notna() & (position_r.isna() | (position_l > position_r))
    pairs["new_record_id"] = pairs["record_id_l"].where(left_is_new, pairs["record_id_r"])
    pairs["candidate_id"] = pairs["record_id_r"].where(left_is_new, pairs["record_id_l"])
    pairs = pairs[PAIR_COLUMNS]

    rule_links = exact_contact_links(new, existing[existing["record_id"].isin(set(contact_ids))])
    if len(rule_links):
        rule_pairs = rule_links.assign(
            candidate_source="existing",
            match_probability=RULE_PROBABILITY,
            match_weight=float("nan"),
            hold_reason=None,
        )[PAIR_COLUMNS]
        linked_by_rule = pd.MultiIndex.from_frame(rule_links)
        scored = pd.MultiIndex.from_frame(pairs[["new_record_id", "candidate_id"]])
        pairs = pd.concat([pairs[~scored.isin(linked_by_rule)], rule_pairs], ignore_index=True)
    return pairs.reset_index(drop=True)


def person_oversized_blocks(
    new_records: pd.DataFrame,
    existing_records: pd.DataFrame,
    model_path: Path = PERSON_MODEL_PATH,
    *,
    limit_per_key: int,
) -> pd.DataFrame:
    """guards.oversized_blocking_keys for person inputs, under the blocking rules saved in the model (the
    rules predict uses)."""
    return oversized_blocking_keys(
        prepare_people(new_records, "new records"),
        prepare_people(existing_records, "existing records"),
        _model_blocking_rules(model_path),
        limit_per_key=limit_per_key,
    )


def _best_per_record(pairs: pd.DataFrame, record_ids: pd.Series, thresholds: Thresholds) -> pd.DataFrame:
    """One row per new record, in input order: its best candidate, or none."""
    held = pairs["hold_reason"].notna() if "hold_reason" in pairs else False
    # Deterministic tie-break: a pair that may auto-link before a held one, higher probability, then an
    # existing record over a batch peer, then id.
    ranked = pairs.assign(
        _held=(pairs["match_probability"] >= thresholds.auto_link) & held,
        _existing_first=(pairs["candidate_source"] != "existing").astype(int),
    ).sort_values(
        ["new_record_id", "_held", "match_probability", "_existing_first", "candidate_id"],
        ascending=[True, True, False, True, True],
        kind="mergesort",
    )
    best = ranked.drop_duplicates("new_record_id").drop(columns=["_held", "_existing_first"])
    result = pd.DataFrame({"new_record_id": record_ids.astype(str).to_numpy()}).merge(
        best, on="new_record_id", how="left"
    )
    result["decision"] = [thresholds.decide(p) for p in result["match_probability"]]
    if "hold_reason" in result:
        held = result["hold_reason"].notna() & (result["decision"] == "linked")
        result.loc[held, "decision"] = "review"
    # A record that is "new" has no candidate worth showing.
    is_new = result["decision"] == "new"
    result.loc[is_new, [c for c in ("candidate_id", "candidate_source", "hold_reason") if c in result]] = None
    return result


def score_people(
    new_df: pd.DataFrame,
    existing_df: pd.DataFrame,
    model_path: Path = PERSON_MODEL_PATH,
    *,
    auto_link: float = 0.95,
    review: float = 0.60,
    max_candidate_pairs: int | None = DEFAULT_MAX_CANDIDATE_PAIRS,
) -> pd.DataFrame:
    """Best candidate per new record among existing records and earlier records of the batch.

    Columns: new_record_id, candidate_id, candidate_source ('existing'|'batch'|None), match_probability,
    match_weight, decision ('linked'|'review'|'new'). One row per row of `new_df`, same order. Both
    frames need the person input columns (prepare.PERSON_INPUT_COLUMNS) with disjoint `record_id`s.
    """
    thresholds = Thresholds(auto_link=auto_link, review=review)
    pairs = person_candidate_pairs(
        new_df, existing_df, model_path, min_probability=review, max_candidate_pairs=max_candidate_pairs
    )
    return _best_per_record(pairs, new_df["record_id"], thresholds)[PERSON_SCORE_COLUMNS]


def _name_only_adjusted(weight: float) -> tuple[float, float]:
    adjusted = weight - NAME_ONLY_PRIOR_PENALTY_BITS
    return adjusted, 1.0 / (1.0 + 2.0 ** (-adjusted))


def score_accounts(
    leads_df: pd.DataFrame,
    accounts_df: pd.DataFrame,
    account_domains_df: pd.DataFrame,
    model_path: Path = ACCOUNT_MODEL_PATH,
    *,
    auto_link: float = 0.95,
    review: float = 0.60,
    max_candidate_pairs: int | None = DEFAULT_MAX_CANDIDATE_PAIRS,
) -> pd.DataFrame:
    """Best CRM account per lead.

    Columns: new_record_id, candidate_id (account_id), match_method ('domain'|'company_name_only'|None),
    match_probability, match_weight, decision. A match resting on the company name alone (free-mail lead
    without website) gets a lower prior (settings.NAME_ONLY_PRIOR_PENALTY_BITS) and is never auto-linked:
    at best it goes to review with its candidate and probability. A lead for which two accounts clear
    `auto_link` also goes to review (with the best of them).
    """
    thresholds = Thresholds(auto_link=auto_link, review=review)
    leads = prepare_lead_accounts(leads_df, "leads")
    accounts = prepare_accounts(accounts_df, account_domains_df)
    with _splink_session() as db_api:
        leads_sdf = db_api.register(leads, table_name="leads")
        accounts_sdf = db_api.register(accounts, table_name="accounts")
        linker = _load_linker(leads_sdf, model_path)
        if max_candidate_pairs is not None:
            rules = _model_blocking_rules(model_path)
            count = candidate_pair_upper_bound([leads_sdf, accounts_sdf], rules, "link_only")
            _guard_volume(
                count, max_candidate_pairs, f"{len(leads):,} leads vs {len(accounts):,} account rows"
            )
        # The name-only penalty only lowers scores, so filtering at `review` first loses nothing.
        pairs = _predictions(
            linker.inference.predict_between(
                leads_sdf, accounts_sdf, threshold_match_probability=review, warning_mode="never"
            ),
            [
                "record_id_l",
                "record_id_r",
                "account_id_l",
                "account_id_r",
                "match_probability",
                "match_weight",
            ],
        )
    lead_ids = set(leads["record_id"])
    left_is_lead = pairs["record_id_l"].isin(lead_ids)
    pairs["new_record_id"] = pairs["record_id_l"].where(left_is_lead, pairs["record_id_r"])
    pairs["candidate_id"] = pairs["account_id_r"].where(left_is_lead, pairs["account_id_l"])
    # Name only = the domain comparison sat at its null level: no domain on the lead or on the account row.
    without_domain = set(
        leads.loc[leads["email_domain"].isna() & leads["website_domain"].isna(), "record_id"]
    )
    without_domain |= set(accounts.loc[accounts["email_domain"].isna(), "record_id"])
    name_only = pairs["record_id_l"].isin(without_domain) | pairs["record_id_r"].isin(without_domain)
    pairs["match_method"] = name_only.map({True: "company_name_only", False: "domain"})
    if name_only.any():
        adjusted = [_name_only_adjusted(w) for w in pairs.loc[name_only, "match_weight"]]
        pairs.loc[name_only, "match_weight"] = [w for w, _ in adjusted]
        pairs.loc[name_only, "match_probability"] = [p for _, p in adjusted]
    pairs["candidate_source"] = "existing"
    best = _best_per_record(
        pairs[
            [
                "new_record_id",
                "candidate_id",
                "candidate_source",
                "match_probability",
                "match_weight",
                "match_method",
            ]
        ],
        leads_df["record_id"],
        thresholds,
    )
    capped = (best["match_method"] == "company_name_only") & (best["decision"] == "linked")
    best.loc[capped, "decision"] = "review"
    # Two accounts that both clear auto_link (a domain held by two CRM accounts: duplicates, a parent and
    # its subsidiary) are a question for a person, not a coin toss on the tie-break.
    clearing = pairs.loc[pairs["match_probability"] >= auto_link]
    ambiguous = clearing.groupby("new_record_id")["candidate_id"].nunique().loc[lambda n: n > 1].index
    best.loc[best["new_record_id"].isin(ambiguous) & (best["decision"] == "linked"), "decision"] = "review"
    best.loc[best["decision"] == "new", "match_method"] = None
    return best[ACCOUNT_SCORE_COLUMNS]


def _stable_person_id(record_id: str) -> str:
    return "per_" + hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:16]


def cluster_people(
    new_record_ids: pd.Series | list[str],
    pairs: pd.DataFrame,
    existing_person_ids: Mapping[str, str],
    *,
    auto_link: float = 0.95,
) -> pd.DataFrame:
    """Person id for every new record, and for existing records whose person merges into another.

    `pairs` are scored pairs (person_candidate_pairs); those >= auto_link are edges. A cluster keeps the
    smallest existing person id it contains, so ids never change for a cluster that does not merge; a
    cluster of new records only gets `per_<sha256(first record id)>`, stable across re-runs of the batch.
    Columns: record_id, person_id, previous_person_id (NULL for a new record).
    """
    ordered = [str(r) for r in new_record_ids]
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for record_id in ordered:
        find(record_id)
    edges = pairs[pairs["match_probability"] >= auto_link]
    if "hold_reason" in edges:
        edges = edges[edges["hold_reason"].isna()]
    for left, right in zip(edges["new_record_id"], edges["candidate_id"], strict=True):
        root_left, root_right = find(str(left)), find(str(right))
        if root_left != root_right:
            parent[max(root_left, root_right)] = min(root_left, root_right)

    members: dict[str, list[str]] = {}
    for node in parent:
        members.setdefault(find(node), []).append(node)
    arrival = {record_id: position for position, record_id in enumerate(ordered)}
    rows = []
    for nodes in members.values():
        existing_ids = sorted({existing_person_ids[n] for n in nodes if n in existing_person_ids})
        if existing_ids:
            person_id = existing_ids[0]
        else:
            person_id = _stable_person_id(min((n for n in nodes if n in arrival), key=arrival.__getitem__))
        for node in nodes:
            previous = existing_person_ids.get(node)
            if node in arrival or previous != person_id:
                rows.append({"record_id": node, "person_id": person_id, "previous_person_id": previous})
    result = pd.DataFrame(rows, columns=["record_id", "person_id", "previous_person_id"])
    order = {r: i for i, r in enumerate(ordered)}
    return result.sort_values("record_id", key=lambda s: s.map(lambda r: order.get(r, math.inf))).reset_index(
        drop=True
    )


def apply_person_assignments(history: pd.DataFrame, assignments: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """Fold cluster_people output into a validity history (record_id, person_id, valid_from, valid_to).

    A record whose person id changes (a merge) gets its open row closed at `at` and a new open row; a new
    record gets an open row; unchanged records are left alone. Pure: returns a new frame.
    """
    columns = ["record_id", "person_id", "valid_from", "valid_to"]
    history = history[columns].copy() if len(history) else pd.DataFrame(columns=columns)
    open_rows = history["valid_to"].isna()
    current = dict(zip(history.loc[open_rows, "record_id"], history.loc[open_rows, "person_id"], strict=True))
    changed = assignments[
        [current.get(r) != p for r, p in zip(assignments["record_id"], assignments["person_id"], strict=True)]
    ]
    close = open_rows & history["record_id"].isin(changed["record_id"])
    history.loc[close, "valid_to"] = at
    opened = pd.DataFrame(
        {
            "record_id": changed["record_id"],
            "person_id": changed["person_id"],
            "valid_from": at,
            "valid_to": pd.NaT,
        }
    )
    return pd.concat([history, opened], ignore_index=True)[columns]


def dedupe_people(
    records: pd.DataFrame,
    model_path: Path = PERSON_MODEL_PATH,
    *,
    threshold: float = 0.95,
    max_candidate_pairs: int | None = DEFAULT_MAX_CANDIDATE_PAIRS,
    domain_owners: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Full dedupe of one table: (pairs >= threshold, clusters (record_id, cluster_id)) by connected
    components. For backfills and evaluation; the per-batch path is score_people + cluster_people."""
    prepared = prepare_people(records, "records")
    with _splink_session() as db_api:
        sdf = db_api.register(prepared, table_name="records")
        linker = _load_linker(sdf, model_path, population=len(prepared))
        if max_candidate_pairs is not None:
            rules = _model_blocking_rules(model_path)
            _guard_volume(
                candidate_pair_upper_bound(sdf, rules, "dedupe_only"),
                max_candidate_pairs,
                f"{len(prepared):,} records",
            )
        predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        pairs = _predictions(predictions, ["record_id_l", "record_id_r", "match_probability", "match_weight"])
    # Pairs the rules hold for review are no edges (rules.hold_reason), as in the per-batch path.
    held = pair_hold_reasons(pairs, prepared, "record_id_l", "record_id_r", domain_owners).notna()
    pairs = pairs[~held].reset_index(drop=True)
    clusters = cluster_people(
        prepared["record_id"].tolist(),
        pairs.rename(columns={"record_id_l": "new_record_id", "record_id_r": "candidate_id"}),
        {},
        auto_link=threshold,
    ).rename(columns={"person_id": "cluster_id"})
    return pairs, clusters[["record_id", "cluster_id"]]
