"""The identity step on a real DuckDB file with the real splink models: persistence, review candidates,
unmerges as history, guard rails that write nothing, and an empty CRM."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "dbt"))
from leadops_dbt_warehouse import append_events, create_warehouse, event

from assets.identity.resolve import IdentityPolicy
from assets.identity.warehouse import resolve_pending_events

CRM = {
    "accounts": [
        {
            "account_id": "acc_acme",
            "name": "Acme Corp",
            "domain": "acme.com",
            "country": "US",
            "employees": 500,
            "status": "prospect",
            "owner_id": "own_1",
        }
    ],
    "account_domains": [{"account_id": "acc_acme", "domain": "acme.com", "is_primary": True}],
    "contacts": [
        {
            "contact_id": "con_robert",
            "account_id": "acc_acme",
            "first_name": "Robert",
            "last_name": "Smith",
            "email": "robert.smith@acme.com",
        }
    ],
}


def _insert_raw(path: Path, events: list[dict]) -> None:
    """Land events WITHOUT resolving them (append_events resolves with the default policy)."""
    from leadops_dbt_warehouse import RAW_EVENT_COLUMNS, _insert

    with duckdb.connect(str(path)) as con:
        _insert(con, "raw.inbound_events", RAW_EVENT_COLUMNS, events)


def _people(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(
            con.execute(
                "select record_id, person_id from identity.person_assignments where valid_to is null"
            ).fetchall()
        )


def _matches(path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select event_id, person_decision, account_decision, account_candidate_id,"
            " account_match_method, account_match_probability from identity.event_matches"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, CRM)
    return path


def test_a_person_writing_twice_joins_the_crm_contact_and_keeps_the_id_across_batches(
    warehouse: Path,
) -> None:
    append_events(
        warehouse,
        [event("e1", 1, email="Bob.Smith+web@acme.com", first_name="Bob", last_name="Smith", company="Acme")],
    )
    first = _people(warehouse)
    append_events(
        warehouse,
        [
            event(
                "e2", 60, email="robert.smith@ACME.com", first_name="Robert", last_name="Smith", source="chat"
            )
        ],
    )
    people = _people(warehouse)
    assert people["e1"] == people["e2"] == people["contact:con_robert"] == first["e1"]


def test_a_free_mail_lead_naming_a_known_company_is_only_a_review_candidate(warehouse: Path) -> None:
    append_events(
        warehouse,
        [
            event(
                "e1",
                1,
                email="jane.doe@gmail.com",
                first_name="Jane",
                last_name="Doe",
                company="Acme, Inc.",
                country_code="US",
            )
        ],
    )
    _, account_decision, candidate, method, probability = _matches(warehouse)["e1"]
    assert (account_decision, candidate, method) == ("review", "acc_acme", "company_name_only")
    assert 0.6 <= probability < 0.95


def test_an_unmerge_closes_the_assignment_pins_the_event_and_survives_later_batches(warehouse: Path) -> None:
    append_events(
        warehouse,
        [
            event("e1", 1, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US"),
            event("e2", 2, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US"),
        ],
    )
    assert _people(warehouse)["e1"] == _people(warehouse)["e2"]
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw.operator_overrides (override_id, created_at, actor, scope, target_id, action,"
            " value, reason, line_number) values ('ovr_1', now(), 'ria', 'event', 'e2', 'unmerge', null,"
            " 'two people share the address', 1)"
        )
        outcome = resolve_pending_events(con, IdentityPolicy(), "run-unmerge", datetime.now())
    assert outcome.written and outcome.unmerges_applied == 1
    people = _people(warehouse)
    assert people["e1"] != people["e2"]
    # A later event of Kim links to e1's person, never back to the pinned e2; the unmerge is applied once.
    append_events(
        warehouse,
        [event("e3", 90, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US")],
    )
    people = _people(warehouse)
    assert people["e3"] == people["e1"] != people["e2"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        history = con.execute(
            "select person_id, valid_to is null, change, actor from identity.person_assignments"
            " where record_id = 'e2' order by valid_from"
        ).fetchall()
    assert [(row[1], row[2], row[3]) for row in history] == [
        (False, "linked", "leadops-identity"),
        (True, "unmerged", "ria"),
    ]


def test_a_failing_guard_rail_writes_no_links(warehouse: Path) -> None:
    _insert_raw(
        warehouse,
        [
            event(f"e{i}", i, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US")
            for i in range(5)
        ],
    )
    with duckdb.connect(str(warehouse)) as con:
        outcome = resolve_pending_events(
            con, IdentityPolicy(max_cluster_size=3), "run-guard", datetime(2026, 11, 25, 12)
        )
        written = con.execute("select count(*) from identity.person_assignments").fetchone()[0]
        guards = con.execute("select guard, passed from identity.guard_results").fetchall()
    assert not outcome.written and written == 0
    assert ("largest_cluster", False) in guards


def test_an_empty_crm_is_a_valid_state(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    create_warehouse(path, {})
    append_events(
        path, [event("e1", 1, email="solo@nowhere-example.com", first_name="Solo", last_name="Han")]
    )
    assert set(_people(path)) == {"e1"}


def test_a_key_most_events_share_is_escalated_with_its_reason_and_never_stops_the_step(
    warehouse: Path,
) -> None:
    # 2,000 pairs at most, so one key may make 100: 70 "Test User" events make 2,415 pairs in their
    # name-and-country block alone, enough to fail the pair-volume guard were they scored.
    policy = IdentityPolicy(max_candidate_pairs=2_000)
    test_users = [
        event(
            f"t{i:02d}",
            i,
            email=f"load{i}@test-example.com",
            first_name="Test",
            last_name="User",
            country_code="US",
        )
        for i in range(70)
    ]
    people_events = [
        event("k1", 100, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US"),
        event("k2", 101, email="kim.lee@acme.com", first_name="Kim", last_name="Lee", country_code="US"),
        event("r1", 102, email="robert.smith@acme.com", first_name="Robert", last_name="Smith"),
    ]
    _insert_raw(warehouse, test_users[:35] + people_events + test_users[35:])
    with duckdb.connect(str(warehouse)) as con:
        outcome = resolve_pending_events(con, policy, "run-skew", datetime(2026, 12, 8, 1))
        matches = {
            row[0]: row[1:]
            for row in con.execute(
                "select event_id, person_decision, person_candidate_id, person_candidate_person_id,"
                " person_match_probability, person_review_reason from identity.event_matches"
            ).fetchall()
        }
    people = _people(warehouse)

    assert outcome.written and not outcome.problems and outcome.new_events == 73
    assert len(matches) == 73
    for event_id in (e["event_id"] for e in test_users):
        decision, candidate, candidate_person, probability, reason = matches[event_id]
        assert decision == "review" and probability is None
        assert reason.startswith("blocking_key_oversized: rule (first_name, last_name, country_code)")
        assert "('test', 'user', 'US')" in reason
        # The reviewer sees another event of the block, never the event itself; nothing links them.
        assert candidate.startswith("t") and candidate != event_id
        assert candidate_person == people[candidate] != people[event_id]
    assert len({people[e["event_id"]] for e in test_users}) == 70
    assert matches["k1"][0] == "new" and matches["k2"][0] == "linked"
    assert people["k1"] == people["k2"]
    assert matches["r1"][0] == "linked" and people["r1"] == people["contact:con_robert"]

    # A later run meets the same key again: escalated against the earlier events, the run goes through.
    _insert_raw(
        warehouse,
        [
            event(
                f"u{i}",
                200 + i,
                email=f"more{i}@test-example.com",
                first_name="Test",
                last_name="User",
                country_code="US",
            )
            for i in range(3)
        ],
    )
    with duckdb.connect(str(warehouse)) as con:
        later = resolve_pending_events(con, policy, "run-skew-2", datetime(2026, 12, 8, 2))
        rows = con.execute(
            "select person_decision, person_candidate_source, person_review_reason"
            " from identity.event_matches where event_id like 'u%'"
        ).fetchall()
    assert later.written and len(rows) == 3
    assert all(d == "review" and s == "lead" and "3 new and 70 earlier" in r for d, s, r in rows), rows
