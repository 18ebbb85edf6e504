"""Offline training of the person and account models: the only place model JSON is written.

Run `python -m assets.identity.training --out assets/identity/model` to regenerate the versioned
artefacts from the seeded synthetic generator. Scoring never trains (see scoring.py).

Recipe (the same for both models, unsupervised so it also works on real unlabeled data):
1. prior from deterministic rules with an assumed recall,
2. u from random sampling with a fixed seed (the only random step; seeded => reproducible JSON),
3. m from EM sessions on blocking rules that leave each comparison free in at least one session.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pydantic import BaseModel
from splink import DuckDBAPI, Linker, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator

from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset
from assets.identity.prepare import prepare_accounts, prepare_lead_accounts, prepare_people
from assets.identity.splink_models import MODEL_DIR, account_settings, person_settings, training_info_path

logger = logging.getLogger(__name__)

# 2M sampled pairs: the rarest level (email Levenshtein <= 1, u ≈ 1e-5) is still observed ~20 times, and
# the step costs a fixed 3-6 s (measured with splink 5.0 on 2 cores).
DEFAULT_U_MAX_PAIRS = 2e6
DEFAULT_SEED = 7


class TrainingResult(BaseModel):
    model_path: Path
    charts: list[Path]
    training_records: int
    seed: int


def fit_model(
    linker: Linker,
    *,
    deterministic_rules: Sequence[BlockingRuleCreator | str],
    deterministic_recall: float,
    em_blocking_rules: Sequence[BlockingRuleCreator | str],
    seed: int = DEFAULT_SEED,
    u_max_pairs: float = DEFAULT_U_MAX_PAIRS,
) -> None:
    """Estimate prior, u and m in place on `linker` (see module docstring for the recipe)."""
    linker.training.estimate_probability_two_random_records_match(
        list(deterministic_rules), recall=deterministic_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in em_blocking_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)


def remove_matches_from_u(model: dict[str, Any], u_max_pairs: float) -> dict[str, Any]:
    """Correct u for the true matches inside the random sample.

    Random sampling assumes sampled pairs are non-matches. Linking leads to a CRM table, about 1 pair in
    N_accounts is a match (prior 0.0014 on the generator), the same order as u of "email domain equal"
    (0.0012 measured), so the raw u mostly counts true matches and a domain match alone only reached
    p ≈ 0.4. Sampled agreement = λ·m + (1-λ)·u, hence u = (observed - λ·m) / (1 - λ), floored at one
    half-pair of the sample so no weight becomes infinite, then renormalised per comparison.
    """
    corrected = json.loads(json.dumps(model))
    prior = corrected["probability_two_random_records_match"]
    floor = 0.5 / u_max_pairs
    for comparison in corrected["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if lv.get("u_probability") is not None]
        for level in levels:
            m = level.get("m_probability") or 0.0
            level["u_probability"] = max((level["u_probability"] - prior * m) / (1 - prior), floor)
        total = sum(level["u_probability"] for level in levels)
        for level in levels:
            level["u_probability"] /= total
    return corrected


def _rounded(model: dict[str, Any]) -> dict[str, Any]:
    """Parameters to 10 significant digits: DuckDB's parallel sums differ run to run in the 16th digit,
    which would make every retrain a diff of the whole file."""
    model["probability_two_random_records_match"] = float(
        f"{model['probability_two_random_records_match']:.10g}"
    )
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            for key in ("m_probability", "u_probability"):
                if level.get(key) is not None:
                    level[key] = float(f"{level[key]:.10g}")
    return model


def save_model(linker: Linker, model_path: Path, *, u_max_pairs: float | None = None) -> Path:
    """Write the model JSON without the random per-linker uid and with rounded parameters, so retraining
    on the same data and seed reproduces the file and a diff shows only real parameter changes. With
    `u_max_pairs`, u is corrected for sampled matches first (remove_matches_from_u)."""
    model = linker.misc.save_model_to_json()
    model.pop("linker_uid", None)
    if u_max_pairs is not None:
        model = remove_matches_from_u(model, u_max_pairs)
    model = _rounded(model)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return model_path


def save_training_info(model_path: Path, *, training_records: int, seed: int) -> Path:
    """Record how many records the prior was estimated on: a dedupe prior is a per-pair probability, so
    scoring a larger population rescales it (scoring.population_adjusted_prior)."""
    path = training_info_path(model_path)
    info = {"training_records": training_records, "seed": seed}
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def save_charts(linker: Linker, output_dir: Path, prefix: str) -> list[Path]:
    """Match weights and m/u charts as self-contained HTML (libraries inlined: opens offline)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    charts = {
        f"{prefix}_match_weights.html": linker.visualisations.match_weights_chart(),
        f"{prefix}_m_u_parameters.html": linker.visualisations.m_u_parameters_chart(),
    }
    paths = []
    for name, chart in charts.items():
        path = output_dir / name
        chart.save_offline_chart(str(path), overwrite=True, print_msg=False)
        paths.append(path)
    return paths


def train_person_model(
    records: pd.DataFrame | None = None,
    output_dir: Path = MODEL_DIR,
    *,
    seed: int = DEFAULT_SEED,
    u_max_pairs: float = DEFAULT_U_MAX_PAIRS,
) -> TrainingResult:
    """Train the person (dedupe) model on `records` (default: the seeded generator's contacts + leads).

    `records` has the person input columns (prepare.PERSON_INPUT_COLUMNS); labels, if any, are ignored.
    """
    if records is None:
        records = generate_identity_dataset(GeneratorConfig(seed=seed)).people()
    prepared = prepare_people(records, "training records")
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(con)
        linker = Linker(db_api.register(prepared, table_name="person_training"), person_settings())
        fit_model(
            linker,
            # Same email key, or same full name and phone: near-certain matches. Together they find
            # 80 % of true pairs on the generator (nicknames, personal mailboxes and missing phones hide
            # the rest), hence recall 0.8.
            deterministic_rules=[
                block_on("email_key"),
                block_on("first_name", "last_name", "phone"),
            ],
            deterministic_recall=0.8,
            em_blocking_rules=[
                block_on("email_key"),
                block_on("first_name", "last_name"),
                block_on("phone"),
            ],
            seed=seed,
            u_max_pairs=u_max_pairs,
        )
        model_path = save_model(linker, output_dir / "person_model.json")
        save_training_info(model_path, training_records=len(prepared), seed=seed)
        charts = save_charts(linker, output_dir / "charts", "person")
    finally:
        con.close()
    return TrainingResult(model_path=model_path, charts=charts, training_records=len(prepared), seed=seed)


# Share of leads with a CRM account whose business email domain is one of that account's domains.
# Measured on the generator (seed 7): 0.91; free-mail leads are the rest.
ACCOUNT_RULE_LEAD_RECALL = 0.9


def rows_per_account(account_rows: pd.DataFrame) -> float:
    """Mean number of comparison rows per account (one per primary or alias domain).

    Without this factor the prior came out 1.4x too low (0.00124 vs 0.0017 true on seed 7), the u
    correction then left u(email domain equal) at 0.00026 where the truth is 0, and a lead whose only
    evidence was its business domain scored p = 0.78: review instead of link.
    """
    if account_rows.empty:
        raise ValueError("no account rows to train the account model on")
    return len(account_rows) / account_rows["account_id"].nunique()


def train_account_model(
    dataset: IdentityDataset | None = None,
    output_dir: Path = MODEL_DIR,
    *,
    seed: int = DEFAULT_SEED,
    u_max_pairs: float = DEFAULT_U_MAX_PAIRS,
) -> TrainingResult:
    """Train the account (lead -> CRM account) link model on leads, accounts and account domains."""
    dataset = dataset or generate_identity_dataset(GeneratorConfig(seed=seed))
    leads = prepare_lead_accounts(dataset.leads, "training leads")
    accounts = prepare_accounts(dataset.accounts, dataset.account_domains)
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(con)
        linker = Linker(
            [
                db_api.register(accounts, table_name="accounts"),
                db_api.register(leads, table_name="leads"),
            ],
            account_settings(),
        )
        fit_model(
            linker,
            # A business email domain equal to an account domain is near-certain; it finds the account of
            # ~90 % of leads that have one (free-mail leads are the rest). The model compares a lead with
            # every (account, domain) row, so a lead's account is `rows_per_account` matching pairs of
            # which this rule finds one: the pair-level recall is lower by that factor.
            deterministic_rules=[block_on("email_domain")],
            deterministic_recall=ACCOUNT_RULE_LEAD_RECALL / rows_per_account(accounts),
            em_blocking_rules=[block_on("company_key"), block_on("email_domain")],
            seed=seed,
            u_max_pairs=u_max_pairs,
        )
        model_path = save_model(linker, output_dir / "account_model.json", u_max_pairs=u_max_pairs)
        charts = save_charts(linker, output_dir / "charts", "account")
    finally:
        con.close()
    training_records = len(leads) + len(accounts)
    return TrainingResult(model_path=model_path, charts=charts, training_records=training_records, seed=seed)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the identity models on the seeded generator.")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="directory for model JSON and charts")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--people", type=int, default=GeneratorConfig().n_people)
    parser.add_argument("--accounts", type=int, default=GeneratorConfig().n_accounts)
    args = parser.parse_args(argv)
    dataset = generate_identity_dataset(
        GeneratorConfig(n_people=args.people, n_accounts=args.accounts, seed=args.seed)
    )
    for result in (
        train_person_model(dataset.people(), args.out, seed=args.seed),
        train_account_model(dataset, args.out, seed=args.seed),
    ):
        print(f"{result.model_path} ({result.training_records} records); charts: {result.charts}")


if __name__ == "__main__":
    main()
