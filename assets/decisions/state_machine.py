"""The lead state machine: which transitions are allowed, which to log next, and the append-only log.

The allowed transitions and the evidence each requires are data (the dbt seed
`rules.lead_state_transitions`, `dbt_project/seeds/state_machine/lead_state_transitions.csv`).
This module turns a lead's `marts.lead_decisions` row into the transitions still to log, checks them
against that table and appends them to `ops.lead_state_log`, refusing the whole batch when any one
transition is not allowed.

Planning rule (`plan_transitions`):

* the target state follows the disposition: route -> routed, escalate -> escalated,
  disqualify -> disqualified;
* the path is the shortest one through transitions whose evidence keys are all columns of a decision
  row, so steps that need another actor's evidence (a person's `decided_by`, the CRM's
  `task_external_id`, an enrichment provider) are never taken on the pipeline's behalf;
* a lead already at the target, or at a state the table can reach from the target (the owner took it
  further, or a person decided an escalation), needs nothing;
* anything else is a conflict between the log and the decision and raises `UnreachableDecision`:
  the log never jumps.
"""

from __future__ import annotations

import csv
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

SEED_PATH = (
    Path(__file__).resolve().parents[2]
    / "dbt_project"
    / "seeds"
    / "state_machine"
    / "lead_state_transitions.csv"
)
SEED_RELATION = "rules.lead_state_transitions"
LOG_RELATION = "ops.lead_state_log"


class LeadState(StrEnum):
    NEW = "new"
    NORMALIZED = "normalized"
    ENRICHED = "enriched"
    MATCHED = "matched"
    QUALIFIED = "qualified"
    AWAITING_RESPONSE = "awaiting_response"
    ROUTED = "routed"
    MEETING_REQUESTED = "meeting_requested"
    MEETING_BOOKED = "meeting_booked"
    ESCALATED = "escalated"
    DISQUALIFIED = "disqualified"
    CLOSED = "closed"


DISPOSITION_TARGETS: dict[str, LeadState] = {
    "route": LeadState.ROUTED,
    "escalate": LeadState.ESCALATED,
    "disqualify": LeadState.DISQUALIFIED,
}

# The columns of marts.lead_decisions are listed once, in the dbt macro every branch of the model renders
# from; a transition is logged from a decision row only when its required evidence is a subset of them.
DECISION_COLUMNS_MACRO = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "macros" / "lead_decision_columns.sql"
)


@cache
def decision_columns() -> frozenset[str]:
    """The columns of marts.lead_decisions, as the macro `lead_decision_columns` returns them."""
    macro = DECISION_COLUMNS_MACRO.read_text(encoding="utf-8")
    body = macro.split("macro lead_decision_columns()", 1)[1].split("endmacro", 1)[0]
    listed = body.split("return([", 1)[1].split("])", 1)[0]
    columns = frozenset(re.findall(r"'(\w+)'", listed))
    if not columns:
        raise StateMachineError(
            f"no column list in the macro lead_decision_columns ({DECISION_COLUMNS_MACRO})"
        )
    return columns


# Context logged beside the required evidence, so the log alone explains each step. Personal data
# (email, names, company) stays out: the log is kept forever and lead_id is enough to join back.
_CONTEXT_KEYS: dict[LeadState, tuple[str, ...]] = {
    LeadState.NEW: ("first_received_at", "last_received_at"),
    LeadState.NORMALIZED: ("country_code",),
    LeadState.MATCHED: ("account_id", "contact_id", "account_match_probability"),
    LeadState.QUALIFIED: (
        "segment",
        "region",
        "employees",
        "employees_source",
        "enrichment_status",
        "industry",
        "intent",
        "intent_source",
        "intent_confidence",
    ),
    LeadState.ROUTED: ("team", "intent", "high_impact_allowed", "override_id", "decided_by"),
    LeadState.ESCALATED: (
        "team",
        "segment",
        "region",
        "enrichment_status",
        "intent",
        "intent_source",
        "intent_confidence",
        "policy_flag",
        "person_review_candidate_person_id",
        "person_review_probability",
        "account_review_candidate_id",
        "account_review_probability",
        "override_id",
        "decided_by",
    ),
    LeadState.DISQUALIFIED: ("spam_signals",),
}

_LOG_COLUMNS = ("lead_id", "from_state", "to_state", "at", "actor", "evidence_json", "rules_version", "seq")


class StateMachineError(Exception):
    """Base class: every refusal of the state machine."""


class InvalidTransitionTable(StateMachineError):
    """The transition seed itself is malformed (unknown state, duplicate pair, bad entry row)."""


class InvalidDecision(StateMachineError):
    """A decision row lacks a lead_id or carries an unknown disposition."""


class DisallowedTransition(StateMachineError):
    def __init__(self, from_state: str | None, to_state: str, *, lead_id: str | None = None) -> None:
        self.from_state = from_state
        self.to_state = to_state
        self.lead_id = lead_id
        who = f"lead {lead_id}: " if lead_id else ""
        super().__init__(f"{who}transition {_show(from_state)} -> {to_state} is not in {SEED_RELATION}")


class MissingEvidence(StateMachineError):
    def __init__(
        self,
        from_state: str | None,
        to_state: str,
        missing: Sequence[str],
        *,
        lead_id: str | None = None,
    ) -> None:
        self.from_state = from_state
        self.to_state = to_state
        self.missing = tuple(missing)
        self.lead_id = lead_id
        who = f"lead {lead_id}: " if lead_id else ""
        super().__init__(
            f"{who}transition {_show(from_state)} -> {to_state} needs non-null evidence "
            f"{', '.join(self.missing)}"
        )


class UnreachableDecision(StateMachineError):
    """The decision's target cannot be reached from the lead's logged state without a jump."""


class OutOfSequence(StateMachineError):
    """A batch does not continue from the state the log holds for a lead (planned on stale states)."""


def _show(state: str | None) -> str:
    return "(entry)" if state is None else state


def is_null(value: object) -> bool:
    """None, NaN, pandas NA/NaT are null; empty strings and empty lists are values."""
    if value is None:
        return True
    if isinstance(value, list | tuple | dict | set | np.ndarray):
        return False
    return bool(pd.isna(value))


class TransitionRule(BaseModel):
    """One row of the transition seed."""

    model_config = ConfigDict(frozen=True)

    from_state: LeadState | None
    to_state: LeadState
    required_evidence: tuple[str, ...]
    description: str

    @field_validator("from_state", mode="before")
    @classmethod
    def _empty_is_entry(cls, value: object) -> object:
        if is_null(value) or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("to_state", mode="before")
    @classmethod
    def _strip_state(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("required_evidence", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if is_null(value):
            return ()
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(";") if key.strip())
        return value

    @field_validator("description")
    @classmethod
    def _description_required(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("every transition needs a description")
        return value.strip()


@dataclass(frozen=True)
class Transition:
    lead_id: str
    from_state: LeadState | None
    to_state: LeadState
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogViolation:
    """One row of ops.lead_state_log that the transition table does not justify."""

    lead_id: str
    seq: int
    from_state: str | None
    to_state: str
    at: datetime
    problem: str


class TransitionTable:
    """The allowed transitions, keyed by (from_state, to_state); from_state None is the entry."""

    def __init__(self, rules: Iterable[TransitionRule]) -> None:
        self._rules: dict[tuple[LeadState | None, LeadState], TransitionRule] = {}
        for rule in rules:
            pair = (rule.from_state, rule.to_state)
            if pair in self._rules:
                raise InvalidTransitionTable(
                    f"transition {_show(rule.from_state)} -> {rule.to_state} is listed twice"
                )
            if rule.from_state is None and rule.to_state is not LeadState.NEW:
                raise InvalidTransitionTable(
                    f"the entry transition (empty from_state) must lead to 'new', not '{rule.to_state}'"
                )
            self._rules[pair] = rule
        if (None, LeadState.NEW) not in self._rules:
            raise InvalidTransitionTable("the table has no entry transition ( -> new)")

    @property
    def rules(self) -> tuple[TransitionRule, ...]:
        return tuple(self._rules.values())

    def rule(self, from_state: str | None, to_state: str) -> TransitionRule | None:
        try:
            pair = (None if from_state is None else LeadState(from_state), LeadState(to_state))
        except ValueError:
            return None
        return self._rules.get(pair)

    def check(
        self,
        from_state: str | None,
        to_state: str,
        evidence: Mapping[str, Any],
        *,
        lead_id: str | None = None,
    ) -> None:
        """Raise DisallowedTransition or MissingEvidence; return None when the transition may be logged."""
        rule = self.rule(from_state, to_state)
        if rule is None:
            raise DisallowedTransition(from_state, to_state, lead_id=lead_id)
        missing = [key for key in rule.required_evidence if is_null(evidence.get(key))]
        if missing:
            raise MissingEvidence(from_state, to_state, missing, lead_id=lead_id)

    def successors(self, state: LeadState | None) -> list[TransitionRule]:
        return sorted(
            (rule for (source, _), rule in self._rules.items() if source == state),
            key=lambda rule: rule.to_state.value,
        )

    def reachable_from(self, state: LeadState) -> set[LeadState]:
        """States reachable from `state` in one or more steps of any allowed transition."""
        seen: set[LeadState] = set()
        frontier = [state]
        while frontier:
            for rule in self.successors(frontier.pop()):
                if rule.to_state not in seen:
                    seen.add(rule.to_state)
                    frontier.append(rule.to_state)
        return seen


def load_allowed_transitions(rows: Iterable[Mapping[str, object]] | Path) -> TransitionTable:
    """Build the table from seed rows (read from DuckDB or csv.DictReader) or from the seed CSV path."""
    if isinstance(rows, Path):
        with rows.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    rules = []
    for number, row in enumerate(rows, start=1):
        try:
            rules.append(TransitionRule.model_validate(dict(row)))
        except ValidationError as error:
            raise InvalidTransitionTable(f"transition row {number} ({dict(row)}): {error}") from error
    return TransitionTable(rules)


def read_transition_rows(
    con: duckdb.DuckDBPyConnection, relation: str = SEED_RELATION
) -> list[dict[str, object]]:
    """The seed as dbt loaded it into the warehouse, as plain dicts for load_allowed_transitions."""
    cursor = con.execute(f"select from_state, to_state, required_evidence, description from {relation}")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _json_value(key: str, value: object) -> object:
    """Evidence values as JSON-ready Python values (DuckDB and pandas hand over numpy and Timestamps)."""
    if is_null(value):
        return None
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _json_value(key, value.tolist())
    if isinstance(value, list | tuple):
        return [_json_value(key, item) for item in value]
    raise TypeError(f"evidence '{key}' has a value of type {type(value).__name__} that cannot go to JSON")


# Evidence only a person supplies: steps that need it are operator overrides, never automation's own steps.
HUMAN_EVIDENCE = frozenset({"decided_by"})


def _pipeline_steps(table: TransitionTable, state: LeadState | None) -> list[TransitionRule]:
    return [
        rule
        for rule in table.successors(state)
        if set(rule.required_evidence) <= decision_columns()
        and not HUMAN_EVIDENCE & set(rule.required_evidence)
    ]


def _is_correction(rule: TransitionRule) -> bool:
    """A person reversing a settled outcome (routed or disqualified): a step back, not forward."""
    return bool(HUMAN_EVIDENCE & set(rule.required_evidence)) and rule.from_state in {
        LeadState.ROUTED,
        LeadState.DISQUALIFIED,
    }


def _forward_reachable_from(table: TransitionTable, state: LeadState) -> set[LeadState]:
    """States at or past `state`: reachable by any allowed step except a person's corrections."""
    seen: set[LeadState] = set()
    frontier = [state]
    while frontier:
        for rule in table.successors(frontier.pop()):
            if _is_correction(rule):
                continue
            if rule.to_state not in seen:
                seen.add(rule.to_state)
                frontier.append(rule.to_state)
    return seen


def _shortest_pipeline_path(
    table: TransitionTable, start: LeadState | None, target: LeadState
) -> list[TransitionRule] | None:
    previous: dict[LeadState, TransitionRule] = {}
    queue: deque[LeadState | None] = deque([start])
    while queue:
        state = queue.popleft()
        for rule in _pipeline_steps(table, state):
            if rule.to_state in previous or rule.to_state == start:
                continue
            previous[rule.to_state] = rule
            if rule.to_state == target:
                path = [rule]
                while path[0].from_state != start:
                    path.insert(0, previous[path[0].from_state])
                return path
            queue.append(rule.to_state)
    return None


@cache
def _checked_in_table() -> TransitionTable:
    return load_allowed_transitions(SEED_PATH)


def plan_transitions(
    current_state: str | None, decision: Mapping[str, Any], *, table: TransitionTable | None = None
) -> list[Transition]:
    """The transitions still to log to bring a lead from its logged state to its decision's target.

    `table` defaults to the seed CSV checked in beside this code; pass the table read from the warehouse
    (the one append_transitions will check against) when planning for a run.

    Raises InvalidDecision for a row without lead_id or with an unknown disposition, UnreachableDecision
    when the log and the decision conflict, and MissingEvidence when a step's evidence is null in the row.
    """
    lead_id = decision.get("lead_id")
    if is_null(lead_id) or not str(lead_id).strip():
        raise InvalidDecision(f"decision row without lead_id: {dict(decision)}")
    lead_id = str(lead_id)
    disposition = decision.get("disposition")
    if disposition not in DISPOSITION_TARGETS:
        raise InvalidDecision(
            f"lead {lead_id}: disposition {disposition!r} is not one of {sorted(DISPOSITION_TARGETS)}"
        )
    target = DISPOSITION_TARGETS[disposition]
    table = table or _checked_in_table()
    try:
        start = None if current_state is None else LeadState(current_state)
    except ValueError as error:
        raise UnreachableDecision(f"lead {lead_id}: logged state {current_state!r} is unknown") from error

    if start == target or (start is not None and start in _forward_reachable_from(table, target)):
        return []
    path = _shortest_pipeline_path(table, start, target)
    if path is None:
        raise UnreachableDecision(
            f"lead {lead_id}: decision '{disposition}' needs state '{target}', which the pipeline cannot "
            f"reach from the logged state '{_show(start)}' (a person must resolve it)"
        )
    transitions = []
    for rule in path:
        keys = dict.fromkeys((*rule.required_evidence, *_CONTEXT_KEYS.get(rule.to_state, ())))
        evidence = {key: _json_value(key, decision[key]) for key in keys if key in decision}
        table.check(rule.from_state, rule.to_state, evidence, lead_id=lead_id)
        transitions.append(Transition(lead_id, rule.from_state, rule.to_state, evidence))
    return transitions


_OVERRIDE_EVIDENCE = (
    "override_id",
    "decided_by",
    "rule_id",
    "reason",
    "team",
    "owner_id",
    "previous_owner_id",
)


def plan_override_transitions(
    current_state: str | None, decision: Mapping[str, Any], *, table: TransitionTable | None = None
) -> list[Transition]:
    """The transitions an operator's override of a lead's decision adds to its log.

    A lead with no logged state yet walks the pipeline path to the override's outcome; a decided lead takes
    one step from its logged state to the outcome (routed -> routed for a new owner), with the override id
    and its actor (decided_by) in the evidence. Raises UnreachableDecision when the table has no such step.
    """
    if current_state is None:
        return plan_transitions(None, decision, table=table)
    lead_id = str(decision["lead_id"])
    target = DISPOSITION_TARGETS.get(decision.get("disposition"))
    if target is None:
        raise InvalidDecision(f"lead {lead_id}: disposition {decision.get('disposition')!r} is unknown")
    table = table or _checked_in_table()
    start = LeadState(current_state)
    if start == target and target != LeadState.ROUTED:
        return []
    rule = table.rule(start, target)
    if rule is None:
        raise UnreachableDecision(
            f"lead {lead_id}: override {decision.get('override_id')} needs {start.value} -> {target.value},"
            " which lead_state_transitions does not allow"
        )
    keys = dict.fromkeys((*rule.required_evidence, *_OVERRIDE_EVIDENCE, *_CONTEXT_KEYS.get(target, ())))
    evidence = {key: _json_value(key, decision[key]) for key in keys if key in decision}
    table.check(rule.from_state, rule.to_state, evidence, lead_id=lead_id)
    return [Transition(lead_id, rule.from_state, rule.to_state, evidence)]


def logged_override_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Override ids already recorded in the log (each override is logged once)."""
    if not _log_exists(con):
        return set()
    rows = con.execute(
        f"select distinct json_extract_string(evidence_json, '$.override_id') from {LOG_RELATION}"
        " where json_extract_string(evidence_json, '$.override_id') is not null"
    ).fetchall()
    return {row[0] for row in rows}


def ensure_log_table(con: duckdb.DuckDBPyConnection) -> None:
    # seq orders a lead's transitions: one batch logs several steps of a lead with the same `at`.
    # `at` is a reserved word in DuckDB's grammar, hence quoted wherever it is named.
    con.execute("create schema if not exists ops")
    con.execute(
        f"""
        create table if not exists {LOG_RELATION} (
            lead_id varchar not null,
            from_state varchar,
            to_state varchar not null,
            "at" timestamp not null,
            actor varchar not null,
            evidence_json varchar not null,
            rules_version varchar not null,
            seq bigint not null
        )
        """
    )
    columns = tuple(
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ops' and table_name = 'lead_state_log' order by ordinal_position"
        ).fetchall()
    )
    if columns != _LOG_COLUMNS:
        raise StateMachineError(f"{LOG_RELATION} has columns {columns}, expected {_LOG_COLUMNS}")


def _log_exists(con: duckdb.DuckDBPyConnection) -> bool:
    # fetchall, not fetchone: duckdb 2.0 refuses the next statement while a result is unread.
    [(count,)] = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'lead_state_log'"
    ).fetchall()
    return count > 0


def current_states(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The latest logged state of every lead; empty when nothing was logged yet."""
    if not _log_exists(con):
        return {}
    rows = con.execute(
        f"select lead_id, arg_max(to_state, seq) from {LOG_RELATION} group by lead_id"
    ).fetchall()
    return dict(rows)


def _check_sequence(transitions: Sequence[Transition], logged: Mapping[str, str]) -> None:
    expected: dict[str, str | None] = {}
    for transition in transitions:
        state = expected.get(transition.lead_id, logged.get(transition.lead_id))
        if transition.from_state != state:
            raise OutOfSequence(
                f"lead {transition.lead_id}: transition {_show(transition.from_state)} -> "
                f"{transition.to_state} does not continue from the logged state {_show(state)}"
            )
        expected[transition.lead_id] = transition.to_state


def append_transitions(
    con: duckdb.DuckDBPyConnection,
    transitions: Sequence[Transition],
    table: TransitionTable,
    *,
    actor: str,
    rules_version: str,
    at: datetime | None = None,
) -> int:
    """Append transitions to ops.lead_state_log, all or nothing; return how many were appended.

    Every transition is checked against the table and against the lead's logged state before any row
    is written, and the insert runs in one transaction, so a refused batch leaves the log unchanged.
    Owns its transaction: call it outside an open one. `at` is UTC (naive or aware); default now.
    """
    if not actor.strip() or not rules_version.strip():
        raise ValueError("actor and rules_version are required for every logged transition")
    for transition in transitions:
        table.check(
            transition.from_state, transition.to_state, transition.evidence, lead_id=transition.lead_id
        )
    if not transitions:
        return 0
    evidence = [json.dumps(t.evidence, sort_keys=True, allow_nan=False) for t in transitions]
    stamp = at or datetime.now(UTC)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)

    con.begin()
    try:
        ensure_log_table(con)
        _check_sequence(transitions, current_states(con))
        [(last_seq,)] = con.execute(f"select coalesce(max(seq), 0) from {LOG_RELATION}").fetchall()
        first_seq = int(last_seq) + 1
        batch = pd.DataFrame(
            {
                "lead_id": [t.lead_id for t in transitions],
                "from_state": pd.Series(
                    [None if t.from_state is None else t.from_state.value for t in transitions],
                    dtype="object",
                ),
                "to_state": [t.to_state.value for t in transitions],
                "at": pd.Series([stamp] * len(transitions), dtype="datetime64[us]"),
                "actor": actor,
                "evidence_json": evidence,
                "rules_version": rules_version,
                "seq": range(first_seq, first_seq + len(transitions)),
            }
        )
        columns = ", ".join(f'"{column}"' for column in _LOG_COLUMNS)
        con.register("_lead_state_log_batch", batch)
        try:
            con.execute(f"insert into {LOG_RELATION} ({columns}) select {columns} from _lead_state_log_batch")
        finally:
            con.unregister("_lead_state_log_batch")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return len(transitions)


def find_disallowed_logged_transitions(
    con: duckdb.DuckDBPyConnection, table: TransitionTable
) -> list[LogViolation]:
    """Audit the whole log: every row must be an allowed, evidenced step from the lead's previous state."""
    if not _log_exists(con):
        return []
    cursor = con.execute(
        f'select lead_id, seq, from_state, to_state, "at", evidence_json, '
        f"lag(to_state) over (partition by lead_id order by seq) as previous_state, "
        f"row_number() over (partition by lead_id order by seq) as step "
        f"from {LOG_RELATION} order by lead_id, seq"
    )
    violations = []
    while batch := cursor.fetchmany(10_000):
        for lead_id, seq, from_state, to_state, at, evidence_json, previous_state, step in batch:
            problem = None
            try:
                evidence = json.loads(evidence_json)
                if not isinstance(evidence, dict):
                    raise TypeError("not a JSON object")
                table.check(from_state, to_state, evidence)
            except (ValueError, TypeError) as error:
                problem = f"evidence_json is not a JSON object: {error}"
            except StateMachineError as error:
                problem = str(error)
            if problem is None and step > 1 and from_state != previous_state:
                problem = (
                    f"from_state {_show(from_state)} does not follow the previous state {previous_state}"
                )
            if problem is None and step == 1 and from_state is not None:
                problem = f"the first logged transition starts at {from_state}, not at the entry"
            if problem is not None:
                violations.append(LogViolation(lead_id, seq, from_state, to_state, at, problem))
    return violations
