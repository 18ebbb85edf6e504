"""Identity as Dagster assets: person ids and account candidates for every new event, with guard rails.

Thresholds and guard limits are configuration (`IdentityResolver`, from the LEADOPS_IDENTITY_* settings), not
code. The guard rails are blocking asset checks: when one fails the batch's links are NOT written, dbt does
not run, and the next run meets the same failure until someone looks (loud, never silent over-linking).
"""

from datetime import UTC, datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    ConfigurableResource,
    MaterializeResult,
    multi_asset,
)
from dagster_duckdb import DuckDBResource
from pydantic import model_validator

from assets.identity.guards import GuardResult
from assets.identity.resolve import IdentityPolicy
from assets.identity.warehouse import escalated_for_oversized_keys, resolve_pending_events

PERSON_ASSIGNMENTS_KEY = AssetKey(["identity", "person_assignments"])
EVENT_MATCHES_KEY = AssetKey(["identity", "event_matches"])
GUARD_NAMES = ("candidate_pair_volume", "largest_cluster", "auto_link_share")


class IdentityResolver(ConfigurableResource):
    """Match thresholds and guard-rail limits (settings: LEADOPS_IDENTITY_AUTO_LINK, _REVIEW,
    _MAX_CANDIDATE_PAIRS, _MAX_CLUSTER_SIZE, _MAX_AUTO_LINK_SHARE); `chunk_size` new events are scored at a
    time so a backlog stays within the guard rails."""

    auto_link: float = 0.95
    review: float = 0.60
    max_candidate_pairs: int = 20_000_000
    max_cluster_size: int = 50
    max_auto_link_share: float = 0.9
    chunk_size: int = 5_000

    @model_validator(mode="after")
    def _review_band_below_auto_link(self) -> "IdentityResolver":
        if self.review > self.auto_link:
            raise ValueError(
                f"review threshold {self.review} exceeds the auto-link threshold {self.auto_link}"
            )
        return self

    def policy(self) -> IdentityPolicy:
        return IdentityPolicy(**self.model_dump())


def _check_results(guards: list[GuardResult]):
    by_name = {guard.name: guard for guard in guards}
    for name in GUARD_NAMES:
        guard = by_name.get(name)
        yield AssetCheckResult(
            asset_key=PERSON_ASSIGNMENTS_KEY,
            check_name=f"identity_{name}_within_limit",
            passed=True if guard is None else guard.passed,
            metadata={}
            if guard is None
            else {"value": guard.value, "limit": guard.limit, "detail": guard.detail},
        )


@multi_asset(
    specs=[
        AssetSpec(
            key=PERSON_ASSIGNMENTS_KEY,
            deps=[
                AssetKey("raw_inbound_events"),
                AssetKey(["crm", "contacts"]),
                AssetKey(["crm", "accounts"]),
                AssetKey(["crm", "account_domains"]),
                AssetKey("operator_overrides"),
            ],
            group_name="identity",
            kinds={"python", "splink", "duckdb"},
            description="Which person each event (and linked CRM contact) is, with valid_from/valid_to.",
        ),
        AssetSpec(
            key=EVENT_MATCHES_KEY,
            deps=[AssetKey("raw_inbound_events")],
            group_name="identity",
            kinds={"python", "splink", "duckdb"},
            description="Per event: best person candidate and best CRM account candidate with probabilities.",
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            name=f"identity_{name}_within_limit",
            asset=PERSON_ASSIGNMENTS_KEY,
            blocking=True,
            description=f"Guard rail: the batch's {name.replace('_', ' ')} stays within its limit.",
        )
        for name in GUARD_NAMES
    ],
)
def lead_identities(context: AssetExecutionContext, warehouse: DuckDBResource, identity: IdentityResolver):
    """Score new events with the saved splink models (never retrains) and persist person ids."""
    at = datetime.now(UTC).replace(tzinfo=None)
    with warehouse.get_connection() as con:
        outcome = resolve_pending_events(con, identity.policy(), context.run.run_id, at, log=context.log.info)
    for problem in outcome.problems:
        context.log.warning(problem)
    if not outcome.written:
        context.log.error(
            "identity guard rail failed: the failing chunk and the ones after it are not written"
        )
    yield from _check_results(outcome.guards)
    matches = outcome.resolution.event_matches if outcome.resolution is not None else pd.DataFrame()
    assignments = outcome.resolution.assignments if outcome.resolution is not None else pd.DataFrame()
    person = matches["person_decision"].value_counts().to_dict() if len(matches) else {}
    account = matches["account_decision"].value_counts().to_dict() if len(matches) else {}
    yield MaterializeResult(
        asset_key=PERSON_ASSIGNMENTS_KEY,
        metadata={
            "written": outcome.written,
            "new_events": outcome.new_events,
            "unmerges_applied": outcome.unmerges_applied,
            "merges": int((assignments["change"] == "merged").sum()) if len(assignments) else 0,
            "escalated_blocking_key_oversized": escalated_for_oversized_keys(matches) if len(matches) else 0,
            **{f"person_{name}": int(count) for name, count in person.items()},
        },
    )
    yield MaterializeResult(
        asset_key=EVENT_MATCHES_KEY,
        metadata={f"account_{name}": int(count) for name, count in account.items()},
    )
