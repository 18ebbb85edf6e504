"""A 50,000-event backlog goes through the identity step to the end without raising a guard limit.

The whole job on 50,000 lines takes far longer than a test may (bench/bench_backlog.py runs it and records
the numbers). The guard rails live in the identity step, so this runs that step's real planning and
commits (`resolve_pending_events`: arrival order, chunks of `chunk_size`, each committed on its own) over a
generated, realistic backlog (the identity generator: real name lists, repeat submitters, CRM contacts,
typos, alias domains), with the real candidate-pair guard on every chunk and the full scoring, with every
guard, on the last chunk: the one scored against the most history. No dbt.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "dbt"))
from leadops_dbt_warehouse import create_warehouse
from pipeline_helpers import generated_crm_frames, insert_frames

import assets.identity.warehouse as identity_warehouse
from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset
from assets.identity.guards import check_candidate_pair_volume
from assets.identity.resolve import (
    ACCOUNT_COLUMNS,
    EVENT_MATCH_COLUMNS,
    IDENTITY_ACTOR,
    PERSON_COLUMNS,
    IdentityPolicy,
    Resolution,
    contact_person_records,
    resolve_batch,
    stable_person_id,
)

pytestmark = pytest.mark.slow

BACKLOG = 50_000
# 1.59 submissions per generated person on average: 31,500 people make just over 50,000 leads.
PEOPLE = 31_500


def backlog_warehouse(path: Path, dataset: IdentityDataset, events: int) -> None:
    """raw.inbound_events holding the first `events` generated leads (normalized columns, as ingest writes
    them) and the crm.* snapshot of the generated accounts and contacts."""
    create_warehouse(path, {})
    leads = dataset.leads.iloc[:events].rename(columns={"record_id": "event_id"})
    columns = [
        "event_id",
        "source",
        "received_at",
        *sorted({*PERSON_COLUMNS, *ACCOUNT_COLUMNS} - {"record_id"}),
    ]
    with duckdb.connect(str(path)) as con:
        insert_frames(con, generated_crm_frames(dataset), "crm")
        insert_frames(con, {"inbound_events": leads[columns]}, "raw")


def test_a_50000_event_backlog_is_resolved_in_chunks_that_all_pass_the_guard_rails(tmp_path, monkeypatch):
    dataset = generate_identity_dataset(GeneratorConfig(n_people=PEOPLE, n_accounts=PEOPLE // 5, seed=29))
    assert len(dataset.leads) >= BACKLOG
    path = tmp_path / "warehouse.duckdb"
    backlog_warehouse(path, dataset, BACKLOG)
    policy = IdentityPolicy()
    chunks_seen: list[tuple[int, int]] = []

    def resolve_chunk(
        new_events, earlier_events, contacts, accounts, account_domains, current, pinned, *rest
    ):
        chunks_seen.append((len(new_events), len(earlier_events)))
        if len(earlier_events) + len(new_events) == BACKLOG:
            return resolve_batch(
                new_events, earlier_events, contacts, accounts, account_domains, current, pinned, *rest
            )
        # Before the last chunk: the pair-volume guard the scoring runs first, on the same records (the chunk
        # against earlier events and CRM contacts), and every event its own new person.
        pool = pd.concat(
            [earlier_events[PERSON_COLUMNS], contact_person_records(contacts, accounts)[PERSON_COLUMNS]],
            ignore_index=True,
        )
        guard = check_candidate_pair_volume(
            new_events[PERSON_COLUMNS], pool, limit=policy.max_candidate_pairs
        )
        ids = new_events["record_id"].astype(str)
        at = rest[-1]
        matches = pd.DataFrame({"event_id": ids, "person_decision": "new"})
        assignments = pd.DataFrame(
            {
                "record_id": ids,
                "person_id": ids.map(stable_person_id),
                "valid_from": at,
                "valid_to": pd.NaT,
                "change": "new",
                "actor": IDENTITY_ACTOR,
                "override_id": None,
                "match_probability": None,
            }
        )
        return Resolution(matches.reindex(columns=EVENT_MATCH_COLUMNS), assignments, [], [guard])

    monkeypatch.setattr(identity_warehouse, "resolve_batch", resolve_chunk)
    progress: list[str] = []
    with duckdb.connect(str(path)) as con:
        outcome = identity_warehouse.resolve_pending_events(
            con, policy, "backlog-run", datetime(2026, 12, 7), log=progress.append
        )
        guards = con.execute(
            'select guard, value, "limit", passed from identity.guard_results order by checked_at'
        ).fetchall()
        matched = con.execute("select count(*) from identity.event_matches").fetchone()[0]

    print("\n".join(progress), *guards, sep="\n")
    size = policy.chunk_size
    assert chunks_seen == [(size, index * size) for index in range(BACKLOG // size)]
    assert outcome.written and outcome.new_events == BACKLOG, progress
    assert f"{BACKLOG:,} of {BACKLOG:,} so far" in progress[-1]
    assert matched == BACKLOG
    # Nine pair-volume guards, then the last chunk's cluster and auto-link guards (its pair-volume guard
    # raises only when it fails); none failed.
    assert [name for name, *_ in guards].count("candidate_pair_volume") == BACKLOG // size - 1
    assert {"largest_cluster", "auto_link_share"} <= {name for name, *_ in guards}
    assert all(passed for *_, passed in guards), guards
