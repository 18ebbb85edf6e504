"""The outcome contract and ingest: bad lines, unknown leads, duplicates and out-of-order outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from assets.feedback.contract import SCHEMA_PATH, json_schema, parse_outcome_line
from assets.feedback.ingest import ingest_outcome_files
from integrations.landing.zone import write_events_atomically


def outcome(outcome_id: str, **fields) -> dict:
    base = {
        "outcome_id": outcome_id,
        "lead_id": "lead-1",
        "kind": "status_changed",
        "status": "working",
        "occurred_at": "2026-11-26T09:00:00Z",
        "actor": "rep@example.com",
    }
    return base | fields


@pytest.fixture
def warehouse(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema marts; create table marts.lead_decisions (lead_id varchar)")
    con.execute("insert into marts.lead_decisions values ('lead-1'), ('lead-2')")
    con.execute(
        "create schema ops;"
        " create table ops.crm_writes (lead_id varchar, operation varchar, external_id varchar)"
    )
    con.execute("insert into ops.crm_writes values ('lead-2', 'upsert_lead', 'leadops-lead-2')")
    yield con
    con.close()


def _ingest(con, tmp_path: Path, lines: list, name: str):
    path = write_events_atomically(
        tmp_path / "feedback", [json.dumps(x) if isinstance(x, dict) else x for x in lines], name=name
    )
    return ingest_outcome_files(con, [path], batch_id=name, archive_dir=tmp_path / "feedback" / "archive")


def test_the_schema_file_is_generated_from_the_model():
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(json_schema()))


def test_every_kind_parses_with_its_own_fields():
    kinds = [
        {"kind": "owner_reassigned", "to_owner_id": "u2", "reason": "out_of_office"},
        {"kind": "status_changed", "status": "qualified"},
        {"kind": "lead_converted", "contact_id": "c1"},
        {"kind": "opportunity_updated", "opportunity_id": "op1", "stage": "proposal", "amount": 1200.5},
        {"kind": "meeting", "meeting_id": "m1", "status": "no_show"},
        {"kind": "first_touch", "channel": "call"},
        {"kind": "marked_by_rep", "mark": "wrong_routing"},
    ]
    for number, fields in enumerate(kinds):
        base = {key: value for key, value in outcome(f"o{number}").items() if key != "status"}
        assert parse_outcome_line(json.dumps(base | fields)).kind == fields["kind"]


def test_bad_lines_are_quarantined_with_their_reason(warehouse, tmp_path):
    summary = _ingest(
        warehouse,
        tmp_path,
        [
            "{not json",
            outcome("o1", occurred_at="2026-11-26T09:00:00"),  # no offset
            outcome("o2", kind="meeting"),  # meeting without meeting_id and its status enum
            outcome("o3", surprise=1),
            outcome("o4"),
        ],
        "bad",
    )
    reasons = dict(warehouse.execute("select line_number, reason from raw.quarantined_outcomes").fetchall())
    assert summary.accepted == 1 and summary.quarantined == 4
    assert reasons[1].startswith("invalid_json")
    assert reasons[2].startswith("contract_violation") and "occurred_at" in reasons[2]
    assert "meeting_id" in reasons[3]
    assert "surprise" in reasons[4]


def test_an_outcome_for_an_unknown_lead_is_quarantined_and_a_crm_id_resolves(warehouse, tmp_path):
    _ingest(
        warehouse,
        tmp_path,
        [
            outcome("o1", lead_id="nobody"),
            {
                **{k: v for k, v in outcome("o2").items() if k != "lead_id"},
                "crm_external_id": "leadops-lead-2",
            },
            {**{k: v for k, v in outcome("o3").items() if k != "lead_id"}, "crm_external_id": "elsewhere-9"},
        ],
        "unknown",
    )
    stored = warehouse.execute("select outcome_id, lead_id from raw.outcome_events").fetchall()
    reasons = [
        row[0]
        for row in warehouse.execute(
            "select reason from raw.quarantined_outcomes order by line_number"
        ).fetchall()
    ]
    assert stored == [("o2", "lead-2")]
    assert reasons[0].startswith("unknown_lead: lead_id 'nobody'")
    assert reasons[1].startswith("unknown_lead: crm_external_id 'elsewhere-9'")


def test_an_outcome_arriving_twice_changes_nothing(warehouse, tmp_path):
    _ingest(warehouse, tmp_path, [outcome("o1")], "first")
    before = warehouse.execute("select * from raw.outcome_events").fetchall()
    again = _ingest(
        warehouse, tmp_path, [outcome("o1"), json.dumps(outcome("o1"), indent=None, sort_keys=True)], "again"
    )
    assert again.duplicates == 2 and again.accepted == 0 and again.quarantined == 0
    assert warehouse.execute("select * from raw.outcome_events").fetchall() == before
    changed = _ingest(warehouse, tmp_path, [outcome("o1", status="qualified")], "changed")
    assert changed.quarantine_reasons == {"conflicting_redelivery": 1}
    assert warehouse.execute("select status from raw.outcome_events").fetchall() == [("working",)]


def test_out_of_order_outcomes_are_all_kept_with_their_event_time(warehouse, tmp_path):
    """The latest-by-event-time rule lives in dbt (int_pick_latest_outcome_states and its unit test);
    the ingest must keep every outcome with its own occurred_at, whatever the arrival order."""
    _ingest(
        warehouse,
        tmp_path,
        [outcome("late", status="qualified", occurred_at="2026-11-27T09:00:00+01:00")],
        "a",
    )
    _ingest(
        warehouse, tmp_path, [outcome("early", status="working", occurred_at="2026-11-26T09:00:00Z")], "b"
    )
    latest = warehouse.execute(
        "select status from raw.outcome_events order by occurred_at desc limit 1"
    ).fetchone()
    assert latest == ("qualified",)
    assert (
        str(warehouse.execute("select max(occurred_at) from raw.outcome_events").fetchone()[0])
        == "2026-11-27 08:00:00"
    )
