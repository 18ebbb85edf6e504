"""Drive the pipeline's outbound step (the `crm_writes` asset's `sync_to_crm`, then the retry job's
`deliver_due_actions`) against a CRM until nothing is due, on a clock the test moves instead of sleeping
through backoffs. A plain module (conftest files are not importable by name); the bench uses it too.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from assets.outbound.outbox import RetryPolicy, next_due_at, utc_now
from assets.outbound.reconcile import deliver_due_actions, sync_to_crm
from integrations.crm.port import CrmPort, CrmTransientError

# The retry_due_actions schedule looks once a minute: a pass sends whatever is due by then.
PASS_INTERVAL = timedelta(minutes=1)
# A bound on retry-job passes: the default policy parks an action after 8 attempts, whose backoffs add up
# to at most ~64 min (30 s doubling, capped at 1 h); a loop that does not settle in 200 passes is a bug.
MAX_PASSES = 200


class Clock:
    """Time the outbox sees: starts now, jumps to the next due action instead of waiting for it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.at = start or utc_now()

    def now(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def jump_to(self, moment: datetime) -> None:
        self.at = max(self.at + PASS_INTERVAL, moment)


@dataclass
class Drained:
    passes: int = 0
    run_errors: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    retries: int = 0


def outbox_statuses(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("select status, count(*) from ops.outbox_actions group by 1").fetchall())


def retries(con: duckdb.DuckDBPyConnection) -> int:
    """Sends beyond each action's first, as the outbox counts them."""
    [(count,)] = con.execute(
        "select coalesce(sum(greatest(attempts - 1, 0)), 0) from ops.outbox_actions"
    ).fetchall()
    return int(count)


def drain(
    con: duckdb.DuckDBPyConnection,
    crm: CrmPort,
    rows: Iterable[Mapping[str, Any]] | None,
    policy: RetryPolicy,
    clock: Clock,
    *,
    seed: int = 1,
    max_passes: int = MAX_PASSES,
) -> Drained:
    """One run's outbound step over `rows` (None: the retry job only), then retry-job passes, a minute
    apart or at the next due action, until no action is due or in flight. A pass the CRM fails as a whole
    (a read-back refused) counts and the next one goes on, as the next scheduled run would."""
    rng = random.Random(seed)
    drained = Drained()
    if rows is not None:
        try:
            sync_to_crm(con, crm, list(rows), policy, now=clock.now, rng=rng)
        except CrmTransientError as error:
            drained.run_errors.append(str(error))
    while drained.passes < max_passes:
        due = next_due_at(con)
        if due is None:
            break
        clock.jump_to(due)
        drained.passes += 1
        try:
            deliver_due_actions(con, crm, policy, now=clock.now, rng=rng)
        except CrmTransientError as error:
            drained.run_errors.append(str(error))
    drained.statuses = outbox_statuses(con)
    drained.retries = retries(con)
    return drained
