"""A 50,000-event backlog goes through the identity step to the end without raising a guard limit.

The whole job on 50,000 lines takes far longer than a test may (bench/bench_backlog.py runs it and records
the numbers). The guard rails live in the identity step, so this runs that step for real
(`resolve_pending_events`: arrival order, chunks of `chunk_size`, each scored against everything before it
with every guard and committed on its own) over a generated, realistic backlog (the identity generator: real
name lists, repeat submitters, CRM contacts, typos, alias domains) as ingest would have stored it. No dbt:
35 s of identity on two cores with other work running (bench/results/backlog-identity-50k.json).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "dbt"))
from leadops_dbt_warehouse import create_warehouse
from pipeline_helpers import generated_crm_frames, insert_frames

from assets.identity.generator import GeneratorConfig, IdentityDataset, generate_identity_dataset
from assets.identity.resolve import ACCOUNT_COLUMNS, PERSON_COLUMNS, IdentityPolicy
from assets.identity.warehouse import resolve_pending_events

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


def test_a_50000_event_backlog_is_resolved_in_chunks_that_all_pass_the_guard_rails(tmp_path):
    dataset = generate_identity_dataset(GeneratorConfig(n_people=PEOPLE, n_accounts=PEOPLE // 5, seed=29))
    assert len(dataset.leads) >= BACKLOG
    path = tmp_path / "warehouse.duckdb"
    backlog_warehouse(path, dataset, BACKLOG)
    policy = IdentityPolicy()
    progress: list[str] = []

    with duckdb.connect(str(path)) as con:
        outcome = resolve_pending_events(
            con, policy, "backlog-run", datetime(2026, 12, 7), log=progress.append
        )
        guards = con.execute(
            'select guard, value, "limit", passed from identity.guard_results order by checked_at'
        ).fetchall()
        matched = con.execute("select count(*) from identity.event_matches").fetchone()[0]

    print("\n".join(progress), *guards, sep="\n")
    chunks = BACKLOG // policy.chunk_size
    assert outcome.written and outcome.new_events == BACKLOG and not outcome.problems, progress
    assert len(progress) == chunks and f"{BACKLOG:,} of {BACKLOG:,} so far" in progress[-1]
    assert matched == BACKLOG
    # Each chunk's largest-cluster and auto-link-share guards (the pair-volume guard raises before scoring
    # when it fails, which leaves the chunk unwritten); none failed.
    assert sorted(name for name, *_ in guards) == ["auto_link_share"] * chunks + ["largest_cluster"] * chunks
    assert all(passed for *_, passed in guards), guards
