"""The lead state machine: planned paths, refusals, the all-or-nothing writer and the log audit."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.decisions.state_machine import (
    SEED_PATH,
    DisallowedTransition,
    InvalidDecision,
    InvalidTransitionTable,
    LeadState,
    MissingEvidence,
    OutOfSequence,
    StateMachineError,
    Transition,
    TransitionTable,
    UnreachableDecision,
    append_transitions,
    current_states,
    find_disallowed_logged_transitions,
    load_allowed_transitions,
    plan_transitions,
    read_transition_rows,
)

AT = datetime(2025, 3, 1, 9, 30)


@pytest.fixture(scope="module")
def table() -> TransitionTable:
    return load_allowed_transitions(SEED_PATH)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def decision(disposition: str = "route", **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "lead_id": "lead-1",
        "event_ids": ["evt-1", "evt-2"],
        "email": "ana.garcia@acme.io",
        "source": "demo_request",
        "account_id": "acc-1",
        "contact_id": None,
        "match_method": "domain",
        "country_code": "ES",
        "region": "emea",
        "segment": "mid_market",
        "employees": 120,
        "industry": "software",
        "spam_signals": "",
        "disposition": disposition,
        "reason": "ES, 51-200 employees",
        "rule_id": "emea_mid_market",
        "team": "emea_mm",
        "owner_id": "own-7",
        "sla_minutes": 60,
        "first_received_at": AT,
        "last_received_at": AT,
    }
    row.update(changes)
    return row


def states_of(transitions: list[Transition]) -> list[str | None]:
    if not transitions:
        return []
    return [transitions[0].from_state, *(t.to_state for t in transitions)]


# --- the seed -------------------------------------------------------------------------------------------


def test_seed_rows_have_four_columns_and_name_only_known_states() -> None:
    with SEED_PATH.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))

    assert rows[0] == ["from_state", "to_state", "required_evidence", "description"]
    assert all(len(row) == 4 for row in rows)
    named = {state for row in rows[1:] for state in row[:2] if state}
    assert named == {state.value for state in LeadState}


def test_seed_read_back_from_duckdb_gives_the_same_table(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    # dbt loads the seed with every column varchar and the empty from_state as NULL.
    con.execute("create schema rules")
    con.execute(
        "create table rules.lead_state_transitions as select * from read_csv(?, all_varchar = true)",
        [str(SEED_PATH)],
    )

    from_duckdb = load_allowed_transitions(read_transition_rows(con))

    assert set(from_duckdb.rules) == set(table.rules)


def test_seed_rows_from_a_pandas_frame_with_nan_load(table: TransitionTable) -> None:
    frame = pd.read_csv(SEED_PATH, dtype=str)

    assert set(load_allowed_transitions(frame.to_dict("records")).rules) == set(table.rules)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"from_state": "new", "to_state": "routd", "required_evidence": "", "description": "x"}], "routd"),
        ([{"from_state": "", "to_state": "routed", "required_evidence": "", "description": "x"}], "entry"),
        ([{"from_state": "", "to_state": "new", "required_evidence": "", "description": " "}], "description"),
        (
            [{"from_state": "new", "to_state": "normalized", "required_evidence": "", "description": "x"}],
            "entry",
        ),
        (
            [
                {"from_state": "", "to_state": "new", "required_evidence": "source", "description": "x"},
                {"from_state": None, "to_state": "new", "required_evidence": "", "description": "y"},
            ],
            "twice",
        ),
    ],
    ids=["unknown_state", "entry_not_into_new", "no_description", "no_entry", "duplicate_pair"],
)
def test_a_malformed_transition_table_is_refused(rows: list[dict[str, str | None]], message: str) -> None:
    with pytest.raises(InvalidTransitionTable, match=message):
        load_allowed_transitions(rows)


# --- check ---------------------------------------------------------------------------------------------


def test_a_pair_the_seed_does_not_list_is_disallowed(table: TransitionTable) -> None:
    with pytest.raises(DisallowedTransition, match="new -> routed"):
        table.check("new", "routed", {"owner_id": "own-7"})


def test_missing_evidence_names_every_null_key(table: TransitionTable) -> None:
    with pytest.raises(MissingEvidence) as refused:
        table.check("qualified", "routed", {"owner_id": None, "rule_id": "r", "reason": float("nan")})

    assert refused.value.missing == ("owner_id", "reason", "sla_minutes")


def test_an_empty_string_is_evidence_but_null_is_not(table: TransitionTable) -> None:
    table.check("new", "normalized", {"spam_signals": ""})
    with pytest.raises(MissingEvidence, match="spam_signals"):
        table.check("new", "normalized", {"spam_signals": None})


def test_a_person_must_be_named_to_route_an_escalated_lead(table: TransitionTable) -> None:
    with pytest.raises(MissingEvidence, match="decided_by"):
        table.check("escalated", "routed", {"owner_id": "own-7", "reason": "picked by the team lead"})


def test_no_transition_leaves_closed_and_only_a_person_reopens_a_disqualified_lead(
    table: TransitionTable,
) -> None:
    assert table.successors(LeadState.CLOSED) == []
    successors = {rule.to_state: rule for rule in table.successors(LeadState.DISQUALIFIED)}
    assert set(successors) == {LeadState.CLOSED, LeadState.ROUTED}
    assert "decided_by" in successors[LeadState.ROUTED].required_evidence


def test_a_pipeline_decision_never_reopens_a_disqualified_lead(table: TransitionTable) -> None:
    from assets.decisions.state_machine import UnreachableDecision

    with pytest.raises(UnreachableDecision):
        plan_transitions("disqualified", decision("route"), table=table)


def test_an_override_reroute_is_one_step_with_its_actor_and_override_id(table: TransitionTable) -> None:
    from assets.decisions.state_machine import plan_override_transitions

    row = decision("route", owner_id="own-9", previous_owner_id="own-1", decided_by="ria")
    row["override_id"] = "ovr_1"
    [step] = plan_override_transitions("routed", row, table=table)
    assert (step.from_state, step.to_state) == (LeadState.ROUTED, LeadState.ROUTED)
    assert step.evidence["decided_by"] == "ria" and step.evidence["override_id"] == "ovr_1"
    assert step.evidence["previous_owner_id"] == "own-1"


# --- plan_transitions ----------------------------------------------------------------------------------


def test_a_new_routed_lead_walks_the_whole_routing_path(table: TransitionTable) -> None:
    transitions = plan_transitions(None, decision("route"), table=table)

    assert states_of(transitions) == [None, "new", "normalized", "matched", "qualified", "routed"]
    assert transitions[0].evidence == {
        "event_ids": ["evt-1", "evt-2"],
        "source": "demo_request",
        "first_received_at": AT.isoformat(),
        "last_received_at": AT.isoformat(),
    }
    assert transitions[-1].evidence == {
        "owner_id": "own-7",
        "rule_id": "emea_mid_market",
        "reason": "ES, 51-200 employees",
        "sla_minutes": 60,
        "team": "emea_mm",
    }
    assert {t.lead_id for t in transitions} == {"lead-1"}


def test_a_spam_lead_is_disqualified_straight_after_normalization(table: TransitionTable) -> None:
    row = decision("disqualify", spam_signals="honeypot_filled", rule_id="spam", reason="honeypot_filled")

    transitions = plan_transitions(None, row, table=table)

    assert states_of(transitions) == [None, "new", "normalized", "disqualified"]
    assert transitions[-1].evidence == {
        "rule_id": "spam",
        "reason": "honeypot_filled",
        "spam_signals": "honeypot_filled",
    }


def test_an_undecidable_lead_is_escalated_after_matching(table: TransitionTable) -> None:
    row = decision("escalate", team=None, owner_id=None, rule_id="no_rule", reason="no territory")

    assert states_of(plan_transitions(None, row, table=table)) == [
        None,
        "new",
        "normalized",
        "matched",
        "escalated",
    ]


def test_a_qualified_lead_without_an_active_owner_is_escalated_from_qualified(table: TransitionTable) -> None:
    row = decision("escalate", owner_id=None, rule_id="no_active_owner", reason="team has no active owner")

    assert states_of(plan_transitions("qualified", row, table=table)) == ["qualified", "escalated"]


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("new", ["new", "normalized", "matched", "qualified", "routed"]),
        ("normalized", ["normalized", "matched", "qualified", "routed"]),
        ("matched", ["matched", "qualified", "routed"]),
        ("enriched", ["enriched", "qualified", "routed"]),
        ("qualified", ["qualified", "routed"]),
    ],
)
def test_a_partly_logged_lead_continues_from_its_logged_state(
    table: TransitionTable, current: str, expected: list[str]
) -> None:
    assert states_of(plan_transitions(current, decision("route"), table=table)) == expected


@pytest.mark.parametrize(
    ("disposition", "current"),
    [
        ("route", "routed"),
        ("escalate", "escalated"),
        ("disqualify", "disqualified"),
        # The owner or a person took the lead further after the decision: nothing for the pipeline to log.
        ("route", "awaiting_response"),
        ("route", "meeting_booked"),
        ("route", "closed"),
        ("escalate", "routed"),
        ("escalate", "disqualified"),
        ("disqualify", "closed"),
    ],
)
def test_a_lead_at_or_past_its_decision_needs_no_transition(
    table: TransitionTable, disposition: str, current: str
) -> None:
    assert plan_transitions(current, decision(disposition), table=table) == []


@pytest.mark.parametrize(
    ("disposition", "current"),
    [
        ("disqualify", "routed"),
        ("disqualify", "meeting_requested"),
        ("route", "disqualified"),
        ("route", "escalated"),
        ("disqualify", "escalated"),
    ],
)
def test_a_decision_the_log_contradicts_is_refused_not_jumped(
    table: TransitionTable, disposition: str, current: str
) -> None:
    with pytest.raises(UnreachableDecision, match=f"lead lead-1: decision '{disposition}'"):
        plan_transitions(current, decision(disposition), table=table)


def test_an_unknown_logged_state_is_refused(table: TransitionTable) -> None:
    with pytest.raises(UnreachableDecision, match="'routd'"):
        plan_transitions("routd", decision("route"), table=table)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (decision("route", lead_id=None), "without lead_id"),
        (decision("route", lead_id=float("nan")), "without lead_id"),
        (decision("reroute"), "'reroute'"),
        ({**decision("route"), "disposition": None}, "None"),
    ],
)
def test_a_malformed_decision_row_is_refused(
    table: TransitionTable, row: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidDecision, match=message):
        plan_transitions(None, row, table=table)


def test_a_routed_decision_without_owner_names_the_missing_evidence(table: TransitionTable) -> None:
    with pytest.raises(MissingEvidence, match=r"lead lead-1: transition qualified -> routed .* owner_id"):
        plan_transitions("qualified", decision("route", owner_id=None), table=table)


def test_an_unmatched_lead_needs_a_match_method_to_pass_matching(table: TransitionTable) -> None:
    with pytest.raises(MissingEvidence, match="match_method"):
        plan_transitions("normalized", decision("escalate", match_method=None), table=table)


def test_evidence_from_a_duckdb_frame_becomes_plain_json(table: TransitionTable) -> None:
    row = decision(
        "route",
        event_ids=np.array(["evt-1"], dtype=object),
        sla_minutes=np.int64(30),
        first_received_at=pd.Timestamp("2025-03-01 09:30"),
        country_code=float("nan"),
        employees=pd.NA,
    )

    transitions = plan_transitions(None, row, table=table)

    logged = [json.loads(json.dumps(t.evidence, allow_nan=False)) for t in transitions]
    assert logged[0]["event_ids"] == ["evt-1"]
    assert logged[0]["first_received_at"] == "2025-03-01T09:30:00"
    assert logged[1]["country_code"] is None
    assert logged[3]["employees"] is None
    assert logged[4]["sla_minutes"] == 30


def test_without_a_table_the_checked_in_seed_is_used(table: TransitionTable) -> None:
    assert plan_transitions(None, decision("route")) == plan_transitions(None, decision("route"), table=table)


def _random_decision(rng: random.Random, lead_id: str) -> dict[str, object]:
    row = decision(rng.choice(["route", "escalate", "disqualify"]), lead_id=lead_id)
    for key in ("owner_id", "team", "match_method", "rule_id", "reason", "sla_minutes", "spam_signals"):
        if rng.random() < 0.15:
            row[key] = rng.choice([None, float("nan")])
    return row


def test_random_plans_only_ever_contain_allowed_evidenced_contiguous_steps(table: TransitionTable) -> None:
    rng = random.Random(20250301)
    states: list[str | None] = [None, *(state.value for state in LeadState)]
    planned = refused = 0
    for number in range(2_000):
        current = rng.choice(states)
        try:
            transitions = plan_transitions(current, _random_decision(rng, f"lead-{number}"), table=table)
        except StateMachineError:
            refused += 1
            continue
        planned += 1
        previous = current
        for transition in transitions:
            assert transition.from_state == previous
            table.check(transition.from_state, transition.to_state, transition.evidence)
            previous = transition.to_state
    # Both outcomes must actually occur, or the property says nothing.
    assert planned > 200
    assert refused > 200


def test_random_runs_never_append_a_disallowed_transition(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    rng = random.Random(7)
    leads = [f"lead-{number}" for number in range(40)]
    appended = 0
    for run in range(6):
        logged = current_states(con)
        batch: list[Transition] = []
        for lead_id in leads:
            try:
                batch += plan_transitions(logged.get(lead_id), _random_decision(rng, lead_id), table=table)
            except StateMachineError:
                continue
        appended += append_transitions(con, batch, table, actor="leadops-pipeline", rules_version=f"v{run}")

    assert appended > 40
    assert find_disallowed_logged_transitions(con, table) == []


# --- writer ---------------------------------------------------------------------------------------------


def log_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select lead_id, from_state, to_state, actor, rules_version, seq from ops.lead_state_log order by seq"
    ).fetchall()


def test_appended_transitions_are_logged_in_order_with_actor_and_version(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    transitions = plan_transitions(None, decision("disqualify"), table=table)

    count = append_transitions(
        con, transitions, table, actor="leadops-pipeline", rules_version="abc123", at=AT
    )

    assert count == 3
    assert log_rows(con) == [
        ("lead-1", None, "new", "leadops-pipeline", "abc123", 1),
        ("lead-1", "new", "normalized", "leadops-pipeline", "abc123", 2),
        ("lead-1", "normalized", "disqualified", "leadops-pipeline", "abc123", 3),
    ]
    assert current_states(con) == {"lead-1": "disqualified"}
    evidence = con.execute("select evidence_json from ops.lead_state_log where seq = 1").fetchall()[0][0]
    assert json.loads(evidence)["event_ids"] == ["evt-1", "evt-2"]


def test_an_aware_timestamp_is_stored_as_naive_utc(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    transitions = plan_transitions(None, decision("disqualify"), table=table)[:1]
    aware = datetime(2025, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))

    append_transitions(con, transitions, table, actor="a", rules_version="v", at=aware)

    assert con.execute('select "at" from ops.lead_state_log').fetchall()[0][0] == datetime(2025, 3, 1, 10, 30)


def test_a_batch_with_one_disallowed_transition_writes_nothing(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    append_transitions(
        con, plan_transitions(None, decision("route"), table=table)[:2], table, actor="a", rules_version="v"
    )
    good = plan_transitions(None, decision("route", lead_id="lead-2"), table=table)
    bad = Transition("lead-1", LeadState.NORMALIZED, LeadState.ROUTED, {"owner_id": "own-7"})

    with pytest.raises(DisallowedTransition, match="lead lead-1"):
        append_transitions(con, [*good, bad], table, actor="a", rules_version="v")

    assert len(log_rows(con)) == 2
    assert current_states(con) == {"lead-1": "normalized"}


def test_a_batch_with_missing_evidence_writes_nothing_not_even_the_schema(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    good = plan_transitions(None, decision("route", lead_id="lead-2"), table=table)
    bad = Transition("lead-1", None, LeadState.NEW, {"event_ids": ["evt-1"], "source": None})

    with pytest.raises(MissingEvidence, match="source"):
        append_transitions(con, [*good, bad], table, actor="a", rules_version="v")

    assert current_states(con) == {}


def test_a_batch_planned_on_stale_states_writes_nothing(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    first_run = plan_transitions(None, decision("route"), table=table)
    append_transitions(con, first_run, table, actor="a", rules_version="v")
    fresh = plan_transitions(None, decision("route", lead_id="lead-2"), table=table)

    with pytest.raises(OutOfSequence, match=r"lead lead-1: transition \(entry\) -> new .* routed"):
        append_transitions(con, [*fresh, *first_run], table, actor="a", rules_version="v")

    assert current_states(con) == {"lead-1": "routed"}


def test_an_empty_batch_appends_nothing(con: duckdb.DuckDBPyConnection, table: TransitionTable) -> None:
    assert append_transitions(con, [], table, actor="a", rules_version="v") == 0
    assert current_states(con) == {}


def test_a_transition_without_actor_is_refused(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    with pytest.raises(ValueError, match="actor"):
        append_transitions(
            con, plan_transitions(None, decision(), table=table), table, actor=" ", rules_version="v"
        )


def test_a_log_table_of_another_shape_is_refused(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    con.execute("create schema ops")
    con.execute("create table ops.lead_state_log (lead_id varchar, state varchar)")

    with pytest.raises(StateMachineError, match="has columns"):
        append_transitions(
            con, plan_transitions(None, decision(), table=table), table, actor="a", rules_version="v"
        )

    assert con.execute("select count(*) from ops.lead_state_log").fetchall()[0][0] == 0


# --- audit ----------------------------------------------------------------------------------------------


def test_the_audit_finds_hand_inserted_bad_rows_and_nothing_else(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    append_transitions(
        con, plan_transitions(None, decision("route"), table=table), table, actor="a", rules_version="v"
    )
    assert find_disallowed_logged_transitions(con, table) == []
    insert = "insert into ops.lead_state_log values (?, ?, ?, ?, 'psql', ?, 'v', ?)"
    # A jump the seed does not allow, a step that does not follow the lead's state, and unreadable evidence.
    con.execute(insert, ["lead-2", None, "new", AT, json.dumps({"event_ids": ["e"], "source": "chat"}), 10])
    con.execute(insert, ["lead-2", "new", "routed", AT, json.dumps({"owner_id": "own-7"}), 11])
    con.execute(
        insert, ["lead-1", "qualified", "escalated", AT, json.dumps({"rule_id": "r", "reason": "x"}), 12]
    )
    con.execute(insert, ["lead-3", None, "new", AT, "not json", 13])

    violations = find_disallowed_logged_transitions(con, table)

    assert [(v.lead_id, v.seq) for v in violations] == [("lead-1", 12), ("lead-2", 11), ("lead-3", 13)]
    assert "does not follow the previous state routed" in violations[0].problem
    assert "new -> routed is not in rules.lead_state_transitions" in violations[1].problem
    assert "evidence_json" in violations[2].problem


def test_the_audit_of_an_absent_log_finds_nothing(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> None:
    assert find_disallowed_logged_transitions(con, table) == []
