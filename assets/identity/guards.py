"""Identity guard rails that fail loudly: candidate-pair volume, largest cluster, auto-link share.

Each check returns a `GuardResult(passed, value, limit)` the pipeline turns into a blocking asset check.
The pair-volume check runs BEFORE predict, from block sizes counted over every record (splink's default
counting samples 5 % and scales up, which hides a single exploding block).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import duckdb
import pandas as pd
from pydantic import BaseModel
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules, n_largest_blocks
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from assets.identity.prepare import prepare_people
from assets.identity.splink_models import UNIQUE_ID_COLUMN, person_blocking_rules

# Sized from bench/bench_identity.py: the full dedupe of 100k generated records makes 185k candidate pairs,
# 1k new leads against those 100k make 3.7k. 20M leaves room for a 1M backfill (name blocks grow
# quadratically) and still stops a rule like block_on("country_code"), ~N²/14 pairs, long before DuckDB
# runs out of memory.
DEFAULT_MAX_CANDIDATE_PAIRS = 20_000_000
# A real person shows up a handful of times (CRM contact + repeat form fills); 50 records in one cluster
# means a shared key (role mailbox, switchboard phone) is gluing strangers together.
DEFAULT_MAX_CLUSTER_SIZE = 50
# The last 1k leads of the 100k benchmark world auto-link at 70 % (repeat submitters and CRM contacts);
# above 90 % something else is going on (a key shared by strangers, a replayed batch).
DEFAULT_MAX_AUTO_LINK_SHARE = 0.9


class GuardResult(BaseModel):
    name: str
    passed: bool
    value: float
    limit: float
    detail: str

    def raise_if_failed(self) -> GuardResult:
        if not self.passed:
            raise GuardRailError(self)
        return self


class GuardRailError(RuntimeError):
    """A guard rail failed; scoring stops rather than write links nobody could trust."""

    def __init__(self, result: GuardResult) -> None:
        super().__init__(
            f"identity guard rail '{result.name}' failed: {result.value:g} > limit {result.limit:g}. "
            f"{result.detail}"
        )
        self.result = result


def count_candidate_pairs(
    tables: SplinkDataFrame | Sequence[SplinkDataFrame],
    blocking_rules: Sequence[BlockingRuleCreator | str | dict[str, Any]],
    link_type: Literal["dedupe_only", "link_only"],
) -> int:
    """Exact number of distinct pairs the blocking rules generate (what predict would score)."""
    records = count_comparisons_from_blocking_rules(
        tables,
        blocking_rules=list(blocking_rules),
        link_type=link_type,
        unique_id_column_name=UNIQUE_ID_COLUMN,
        record_sample_proportion=1.0,
    )
    return int(records[-1]["cumulative_comparison_count"]) if records else 0


def candidate_pair_upper_bound(
    tables: SplinkDataFrame | Sequence[SplinkDataFrame],
    blocking_rules: Sequence[BlockingRuleCreator | str | dict[str, Any]],
    link_type: Literal["dedupe_only", "link_only"],
) -> int:
    """Pairs the blocking rules can generate at most, from block sizes alone (no pair is built).

    Sum over rules of n·(n-1)/2 per block (dedupe) or n_left·n_right per block (link): a pair that
    several rules find is counted once per rule, so this is >= what predict scores (1M generated
    records: 3.18M vs 1.63M exact). Its cost does not grow with the pairs — one GROUP BY per rule, 6-10 s
    at 1M records, about what the exact count costs at today's 1.6M pairs (5-8 s) — while the exact count
    builds every pair: 37 s when an earlier, wider name rule made 12.4M pairs. A guard must stay cheap
    exactly when a block explodes, hence the bound.
    """
    total = 0
    for rule in blocking_rules:
        # Every block, largest first: n_largest is only a LIMIT.
        blocks = n_largest_blocks(
            tables, blocking_rule=rule, link_type=link_type, n_largest=2**62
        ).as_pandas_dataframe()
        counts_l = blocks["count_l"].astype("int64")
        if link_type == "dedupe_only":
            total += int((counts_l * (counts_l - 1) // 2).sum())
        else:
            total += int((counts_l * blocks["count_r"].astype("int64")).sum())
    return total


def candidate_pair_volume_result(count: int, limit: int, what: str) -> GuardResult:
    return GuardResult(
        name="candidate_pair_volume",
        passed=count <= limit,
        value=count,
        limit=limit,
        detail=f"{count:,} candidate pairs for {what}; a blocking rule is too broad if this is far above "
        "the number of records",
    )


def check_candidate_pair_volume(
    new_records: pd.DataFrame,
    existing_records: pd.DataFrame | None = None,
    *,
    blocking_rules: Sequence[BlockingRuleCreator | str] | None = None,
    limit: int = DEFAULT_MAX_CANDIDATE_PAIRS,
) -> GuardResult:
    """Pairs person scoring would generate at most: new x existing plus within the new batch (person
    inputs; candidate_pair_upper_bound)."""
    rules = list(blocking_rules) if blocking_rules is not None else person_blocking_rules()
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(con)
        new_sdf = db_api.register(prepare_people(new_records, "new records"), table_name="new_records")
        count = candidate_pair_upper_bound(new_sdf, rules, "dedupe_only")
        if existing_records is not None and len(existing_records):
            existing_sdf = db_api.register(
                prepare_people(existing_records, "existing records"), table_name="existing_records"
            )
            count += candidate_pair_upper_bound([new_sdf, existing_sdf], rules, "link_only")
    finally:
        con.close()
    return candidate_pair_volume_result(count, limit, f"{len(new_records):,} new records")


def check_largest_cluster(
    clusters: pd.DataFrame, *, cluster_column: str = "person_id", limit: int = DEFAULT_MAX_CLUSTER_SIZE
) -> GuardResult:
    """Largest number of records sharing one cluster id (one row per record in `clusters`)."""
    largest = int(clusters[cluster_column].value_counts().max()) if len(clusters) else 0
    top = clusters[cluster_column].value_counts().index[0] if len(clusters) else None
    return GuardResult(
        name="largest_cluster",
        passed=largest <= limit,
        value=largest,
        limit=limit,
        detail=f"largest cluster {top!r} has {largest} records",
    )


def check_auto_link_share(scores: pd.DataFrame, *, limit: float = DEFAULT_MAX_AUTO_LINK_SHARE) -> GuardResult:
    """Share of a batch's records whose decision is 'linked' (output of score_people/score_accounts)."""
    share = float((scores["decision"] == "linked").mean()) if len(scores) else 0.0
    return GuardResult(
        name="auto_link_share",
        passed=share <= limit,
        value=round(share, 6),
        limit=limit,
        detail=f"{int((scores['decision'] == 'linked').sum())} of {len(scores)} records auto-linked",
    )
