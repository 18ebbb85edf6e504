"""Identity guard rails that fail loudly: candidate-pair volume, largest cluster, auto-link share.

Each check returns a `GuardResult(passed, value, limit)` the pipeline turns into a blocking asset check.
The pair-volume check runs BEFORE predict, from block sizes counted over every record (splink's default
counting samples 5 % and scales up, which hides a single exploding block).

One thing is taken out before the check instead of failing it: the records of a blocking key whose block
alone is oversized (`oversized_blocking_keys`). Producers decide what keys their records share, so such
a block must not stop the pipeline; its records go to a person (resolve.resolve_batch).
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
from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator
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
# One blocking key may make at most 1/20 of the pair limit (1M of the default 20M: 1,415 records sharing
# the key within one chunk, or 100 new against 10,000 earlier). The largest block of a generated
# 50,000-lead backlog holds 9 records (36 pairs) and a person has at most 50 records (the cluster guard),
# so a key past this is not one person's records but a load test's "Test User", a role mailbox or a
# switchboard phone. 20 such keys at most fit the pair limit, so a rule that is broad everywhere still
# fails the pair-volume guard unless each of its blocks is oversized on its own.
KEY_SHARE_OF_PAIR_LIMIT = 20
# How the review reason of such a record starts (identity.event_matches.person_review_reason).
OVERSIZED_KEY_REASON = "blocking_key_oversized"
OVERSIZED_KEY_COLUMNS = [
    "record_id",
    "rule",
    "key",
    "new_records",
    "existing_records",
    "pairs",
    "candidate_id",
    "candidate_source",
    "reason",
]


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


def default_blocking_key_pair_limit(max_candidate_pairs: int) -> int:
    """Pairs one blocking key may make before its records leave automatic linking."""
    return max(1, max_candidate_pairs // KEY_SHARE_OF_PAIR_LIMIT)


def _symmetric_keys(rule: BlockingRuleCreator | str | dict[str, Any]) -> list[str] | None:
    """The rule's key expressions when it is a pure same-column equi-join (l.x = r.x AND ...), else None:
    a rule without equi-join makes one block of everything, which is the rule's fault, not a key's, and
    is left to the pair-volume guard."""
    conditions = to_blocking_rule_creator(rule).get_blocking_rule("duckdb")._equi_join_conditions
    if not conditions or any(left != right for left, right in conditions):
        return None
    return [left for left, _ in conditions]


def _oversized_block_members(
    con: duckdb.DuckDBPyConnection, keys: list[str], limit_per_key: int
) -> pd.DataFrame:
    """New records in blocks of `keys` making more than `limit_per_key` pairs: n·(n-1)/2 within the new
    records plus n·m against the m existing ones (what predict_within + predict_between would build)."""
    names = [f"key_{i}" for i in range(len(keys))]
    selected = ", ".join(f"{key} as {name}" for key, name in zip(keys, names, strict=True))
    not_null = " and ".join(f"{key} is not null" for key in keys)
    using = ", ".join(names)
    window = f"partition by {using} order by new_keys.position"
    return con.execute(
        f"""
        with new_keys as (
            select record_id, position, {selected} from new_records where {not_null}
        ),
        existing_blocks as (
            select {using}, count(*) as existing_records, arg_min(record_id, position) as first_existing
            from (select record_id, position, {selected} from existing_records where {not_null})
            group by all
        ),
        blocks as (
            select
                {using},
                count(*) as new_records,
                coalesce(any_value(existing_blocks.existing_records), 0) as existing_records,
                any_value(existing_blocks.first_existing) as first_existing
            from new_keys
            left join existing_blocks using ({using})
            group by all
        ),
        oversized as (
            select *, new_records * (new_records - 1) // 2 + new_records * existing_records as pairs
            from blocks
            where new_records * (new_records - 1) // 2 + new_records * existing_records > ?
        )
        select
            new_keys.record_id,
            [{", ".join(f"cast(oversized.{name} as varchar)" for name in names)}] as key,
            oversized.new_records,
            oversized.existing_records,
            oversized.pairs,
            oversized.first_existing,
            first_value(new_keys.record_id) over ({window}) as first_new,
            lead(new_keys.record_id) over ({window}) as next_new
        from new_keys
        inner join oversized using ({using})
        """,
        [limit_per_key],
    ).df()


def oversized_blocking_keys(
    new_records: pd.DataFrame,
    existing_records: pd.DataFrame,
    blocking_rules: Sequence[BlockingRuleCreator | str | dict[str, Any]],
    *,
    limit_per_key: int,
) -> pd.DataFrame:
    """New records that share a blocking key whose block alone makes more than `limit_per_key` pairs.

    Inputs are prepared person frames (prepare.prepare_people), new records in arrival order. One row
    per such record (OVERSIZED_KEY_COLUMNS), for the rule whose block is largest: the rule's columns, the
    key, its new and existing records, its pairs, a `reason` starting `blocking_key_oversized`, and a
    candidate from the same block for the reviewer (the earliest existing record, else the earliest other
    new record, `candidate_source` 'existing' or 'batch'). Taking these records out of the new records
    removes every pair of those blocks: a pair needs a new record on one side.
    """
    if new_records.empty:
        return pd.DataFrame(columns=OVERSIZED_KEY_COLUMNS)
    found = []
    con = duckdb.connect()
    try:
        con.register("new_records", new_records.assign(position=range(len(new_records))))
        con.register("existing_records", existing_records.assign(position=range(len(existing_records))))
        for rule in blocking_rules:
            keys = _symmetric_keys(rule)
            if keys is None:
                continue
            members = _oversized_block_members(con, keys, limit_per_key)
            if len(members):
                found.append(members.assign(rule=", ".join(key.replace('"', "") for key in keys)))
    finally:
        con.close()
    if not found:
        return pd.DataFrame(columns=OVERSIZED_KEY_COLUMNS)
    rows = (
        pd.concat(found, ignore_index=True)
        .sort_values(["pairs", "rule"], ascending=[False, True], kind="mergesort")
        .drop_duplicates("record_id")
    )
    has_existing = rows["first_existing"].notna()
    rows["candidate_id"] = rows["first_existing"].where(
        has_existing, rows["first_new"].where(rows["first_new"] != rows["record_id"], rows["next_new"])
    )
    rows["candidate_source"] = has_existing.map({True: "existing", False: "batch"})
    rows["key"] = [tuple(key) for key in rows["key"]]
    rows["reason"] = [
        f"{OVERSIZED_KEY_REASON}: rule ({rule}) key ({', '.join(map(repr, key))}) is shared by {new:,} new "
        f"and {existing:,} earlier records, {pairs:,} candidate pairs (limit {limit_per_key:,} per key); "
        "not auto-linked"
        for rule, key, new, existing, pairs in zip(
            rows["rule"],
            rows["key"],
            rows["new_records"],
            rows["existing_records"],
            rows["pairs"],
            strict=True,
        )
    ]
    order = {record_id: position for position, record_id in enumerate(new_records["record_id"])}
    rows = rows.sort_values("record_id", key=lambda ids: ids.map(order), kind="mergesort")
    return rows[OVERSIZED_KEY_COLUMNS].astype({"new_records": int, "existing_records": int, "pairs": int})


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
