"""Warehouse side of identity resolution: the identity.* tables and one call that resolves every event
the warehouse has not resolved yet. Used by the Dagster asset and by tests that build a warehouse by hand."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from assets.identity.guards import OVERSIZED_KEY_REASON, GuardRailError, GuardResult
from assets.identity.resolve import (
    ACCOUNT_COLUMNS,
    ASSIGNMENT_COLUMNS,
    EVENT_MATCH_COLUMNS,
    PERSON_COLUMNS,
    IdentityPolicy,
    Resolution,
    resolve_batch,
    unmerge_assignments,
)
from assets.identity.splink_models import ACCOUNT_MODEL_PATH, PERSON_MODEL_PATH

IDENTITY_DDL = """
create schema if not exists identity;
create table if not exists identity.person_assignments (
    record_id varchar not null,
    person_id varchar not null,
    valid_from timestamp not null,
    valid_to timestamp,
    change varchar not null,
    actor varchar not null,
    override_id varchar,
    match_probability double
);
create table if not exists identity.event_matches (
    event_id varchar not null,
    person_decision varchar not null,
    person_candidate_id varchar,
    person_candidate_source varchar,
    person_candidate_person_id varchar,
    person_match_probability double,
    person_review_reason varchar,
    account_decision varchar,
    account_candidate_id varchar,
    account_match_method varchar,
    account_match_probability double,
    person_model_sha256 varchar,
    account_model_sha256 varchar,
    scored_at timestamp not null
);
-- Warehouses made before the column existed.
alter table identity.event_matches add column if not exists person_review_reason varchar;
create table if not exists identity.guard_results (
    run_id varchar not null,
    guard varchar not null,
    value double,
    "limit" double,
    passed boolean not null,
    detail varchar,
    checked_at timestamp not null
);
"""


def _model_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _read_inputs(con):
    events = con.execute(
        f"""
        select event_id as record_id, {", ".join(sorted({*PERSON_COLUMNS, *ACCOUNT_COLUMNS} - {"record_id"}))}
        from raw.inbound_events
        order by received_at, event_id
        """
    ).df()
    assignments = con.execute(
        "select record_id, person_id, change from identity.person_assignments where valid_to is null"
    ).df()
    contacts = con.execute("select * from crm.contacts").df()
    accounts = con.execute("select * from crm.accounts").df()
    account_domains = con.execute("select * from crm.account_domains").df()
    return events, assignments, contacts, accounts, account_domains


def _pending_unmerges(con) -> pd.DataFrame:
    """Operator unmerge requests not applied yet and not revoked (raw.operator_overrides)."""
    if not _table_exists(con, "raw", "operator_overrides"):
        return pd.DataFrame(columns=["override_id", "target_id", "actor", "reason"])
    return con.execute(
        """
        select override_id, target_id, actor, reason
        from raw.operator_overrides as requests
        where
            action = 'unmerge'
            and override_id not in (
                select value from raw.operator_overrides where action = 'revoke' and value is not null
            )
            and override_id not in (
                select override_id from identity.person_assignments where override_id is not null
            )
        order by created_at, override_id
        """
    ).df()


def _write(con, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    if frame.empty:
        return
    con.register("_identity_frame", frame[columns])
    try:
        con.execute(
            f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _identity_frame"
        )
    finally:
        con.unregister("_identity_frame")


def _close(con, record_ids: list[str], at: datetime) -> None:
    if record_ids:
        con.execute(
            "update identity.person_assignments set valid_to = ?"
            " where valid_to is null and list_contains(?, record_id)",
            [at, record_ids],
        )


def _record_guards(con, run_id: str, guards: list[GuardResult], at: datetime) -> None:
    for guard in guards:
        con.execute(
            "insert into identity.guard_results values (?, ?, ?, ?, ?, ?, ?)",
            [run_id, guard.name, guard.value, guard.limit, guard.passed, guard.detail, at],
        )


@dataclass
class BatchOutcome:
    resolution: Resolution | None
    new_events: int
    unmerges_applied: int
    problems: list[str]
    guards: list[GuardResult]
    written: bool


def _write_resolution(
    con, resolution: Resolution, unmerge_rows: pd.DataFrame, unmerge_closed: list[str], at: datetime
) -> None:
    con.execute("begin transaction")
    try:
        _close(con, unmerge_closed + resolution.closed_record_ids, at)
        _write(con, "identity.person_assignments", unmerge_rows, ASSIGNMENT_COLUMNS)
        _write(con, "identity.person_assignments", resolution.assignments, ASSIGNMENT_COLUMNS)
        matches = resolution.event_matches.assign(
            person_model_sha256=_model_sha256(PERSON_MODEL_PATH),
            account_model_sha256=_model_sha256(ACCOUNT_MODEL_PATH),
            scored_at=at,
        )
        _write(
            con,
            "identity.event_matches",
            matches,
            [*EVENT_MATCH_COLUMNS, "person_model_sha256", "account_model_sha256", "scored_at"],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def escalated_for_oversized_keys(event_matches: pd.DataFrame) -> int:
    """Events sent to review because they share an oversized blocking key (guards.oversized_blocking_keys)."""
    return sum(
        isinstance(reason, str) and reason.startswith(OVERSIZED_KEY_REASON)
        for reason in event_matches["person_review_reason"]
    )


def _combined(resolutions: list[Resolution]) -> Resolution | None:
    if not resolutions:
        return None
    return Resolution(
        pd.concat([r.event_matches for r in resolutions], ignore_index=True),
        pd.concat([r.assignments for r in resolutions], ignore_index=True),
        [record_id for r in resolutions for record_id in r.closed_record_ids],
        [guard for r in resolutions for guard in r.guards],
    )


def resolve_pending_events(
    con, policy: IdentityPolicy, run_id: str, at: datetime, log: Callable[[str], None] | None = None
) -> BatchOutcome:
    """Apply pending unmerges, then score and persist every event without a person yet.

    Pending events are scored in arrival order in chunks of `policy.chunk_size`, one after another: each
    chunk is scored against everything before it (earlier chunks included) and committed in its own
    transaction. A 50,000-event backlog as one batch made 170M candidate pairs (the within-batch name
    blocks grow quadratically) and tripped the pair-volume guard on every later run; in chunks each
    scoring stays within the guard rails. When a guard fails, that chunk and the ones after it are not
    written (the guard results are); the chunks before it stay written, so the next run resumes there.
    """
    say = log or (lambda _message: None)
    con.execute(IDENTITY_DDL)
    events, open_rows, contacts, accounts, account_domains = _read_inputs(con)
    current = dict(zip(open_rows["record_id"], open_rows["person_id"], strict=True))
    unmerge_rows, unmerge_closed, problems = unmerge_assignments(_pending_unmerges(con), current, at)
    current.update(dict(zip(unmerge_rows["record_id"], unmerge_rows["person_id"], strict=True)))
    pinned = set(open_rows.loc[open_rows["change"] == "unmerged", "record_id"]) | set(
        unmerge_rows["record_id"]
    )

    is_new = ~events["record_id"].isin(current.keys())
    new_events, earlier = events[is_new].reset_index(drop=True), events[~is_new].reset_index(drop=True)
    size = max(1, policy.chunk_size)
    chunks = [new_events.iloc[i : i + size].reset_index(drop=True) for i in range(0, len(new_events), size)]
    if not chunks:  # Unmerges still apply when no event is new.
        chunks = [new_events]
    done: list[Resolution] = []
    for number, chunk in enumerate(chunks, start=1):
        try:
            resolution = resolve_batch(
                chunk, earlier, contacts, accounts, account_domains, current, pinned, policy, at
            )
        except GuardRailError as error:
            resolution = Resolution(
                pd.DataFrame(columns=EVENT_MATCH_COLUMNS),
                pd.DataFrame(columns=ASSIGNMENT_COLUMNS),
                [],
                [error.result],
            )
            problems = [*problems, str(error)]
        if not resolution.guards_passed:
            _record_guards(con, run_id, resolution.guards, at)
            say(f"identity chunk {number}/{len(chunks)} ({len(chunk):,} events): a guard rail failed")
            combined = _combined([*done, resolution])
            applied = len(unmerge_rows) if done else 0
            return BatchOutcome(combined, len(new_events), applied, problems, combined.guards, False)
        _record_guards(con, run_id, resolution.guards, at)
        first = not done
        _write_resolution(
            con,
            resolution,
            unmerge_rows if first else unmerge_rows.iloc[0:0],
            unmerge_closed if first else [],
            at,
        )
        done.append(resolution)
        current.update(
            dict(zip(resolution.assignments["record_id"], resolution.assignments["person_id"], strict=True))
        )
        earlier = pd.concat([earlier, chunk], ignore_index=True)
        oversized = escalated_for_oversized_keys(resolution.event_matches)
        say(
            f"identity chunk {number}/{len(chunks)}: {len(chunk):,} events resolved"
            + (f" ({oversized:,} to review: {OVERSIZED_KEY_REASON})" if oversized else "")
            + f", {sum(len(r.event_matches) for r in done):,} of {len(new_events):,} so far"
        )
    combined = _combined(done)
    return BatchOutcome(combined, len(new_events), len(unmerge_rows), problems, combined.guards, True)
