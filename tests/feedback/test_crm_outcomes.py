"""The CRM's change feed becomes outcome events through the outcome contract, incrementally and once."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.feedback.crm_changes import change_to_outcome, poll_crm_outcomes
from integrations.crm.embedded import EmbeddedCrm
from integrations.crm.fake import FakeCrm
from integrations.crm.models import LeadFields, ObjectType, Owner
from integrations.crm.port import SYSTEM_ACTOR, CrmChangeFeed, supports_change_feed

OWNERS = [
    Owner(
        owner_id="OWN-1",
        name="Ada",
        email="ada@example.com",
        team="amer_smb",
        region="AMER",
        active=True,
        capacity=5,
    ),
    Owner(
        owner_id="OWN-2",
        name="Bo",
        email="bo@example.com",
        team="amer_mid_market",
        region="AMER",
        active=True,
        capacity=5,
    ),
]


def _crm_with_one_lead(kind: str, tmp_path: Path):
    if kind == "fake":
        crm = FakeCrm()
        crm.seed(owners=OWNERS)
    else:
        crm = EmbeddedCrm(tmp_path / "crm.sqlite")
        crm.import_records(OWNERS)
    lead = crm.upsert_lead("lead-1", LeadFields(email="x@acme.com", owner_id="OWN-1", status="routed"))
    return crm, lead


def _as_person(crm, name: str):
    if isinstance(crm, FakeCrm):
        crm.actor = name
        return crm
    return EmbeddedCrm(crm.database_path, actor=name)


def _warehouse_knowing_lead(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create table marts.lead_decisions (lead_id varchar)")
    con.execute("insert into marts.lead_decisions values ('lead-1')")
    con.execute(
        "create schema ops; create table ops.crm_writes (lead_id varchar, external_id varchar,"
        " operation varchar, crm_object_type varchar, crm_record_id varchar, status varchar,"
        " written_at timestamp)"
    )
    con.execute(
        "insert into ops.crm_writes values ('lead-1', 'lead-1', 'upsert_lead', 'lead', 'L', 'done', now())"
    )
    return con


@pytest.mark.parametrize("kind", ["embedded", "fake"])
def test_a_person_reassigning_the_owner_is_in_the_change_feed_and_leadops_own_write_is_not(kind, tmp_path):
    crm, lead = _crm_with_one_lead(kind, tmp_path)
    assert supports_change_feed(crm) and isinstance(crm, CrmChangeFeed)
    person = _as_person(crm, "maria@example.com")
    person.assign_owner(ObjectType.LEAD, lead.record_id, "OWN-2")
    person.upsert_lead("lead-1", LeadFields(status="disqualified"))

    changes = crm.read_changes()

    assert [(c.field, c.old_value, c.new_value, c.changed_by) for c in changes] == [
        ("owner_id", "OWN-1", "OWN-2", "maria@example.com"),
        ("status", "routed", "disqualified", "maria@example.com"),
    ]
    assert crm.read_changes(since=changes[0].cursor) == changes[1:]
    assert all(c.by_person for c in changes)


def test_leadops_own_changes_are_not_outcomes(tmp_path):
    crm, lead = _crm_with_one_lead("embedded", tmp_path)
    crm.assign_owner(ObjectType.LEAD, lead.record_id, "OWN-2")

    (change,) = crm.read_changes()

    assert change.changed_by == SYSTEM_ACTOR
    assert change_to_outcome(change) is None


def test_crm_changes_become_contract_outcomes_once(tmp_path):
    crm, lead = _crm_with_one_lead("embedded", tmp_path)
    person = _as_person(crm, "maria@example.com")
    person.assign_owner(ObjectType.LEAD, lead.record_id, "OWN-2")
    person.upsert_lead("lead-1", LeadFields(status="disqualified"))
    con = _warehouse_knowing_lead(tmp_path / "warehouse.duckdb")
    feedback = tmp_path / "feedback"

    first = poll_crm_outcomes(con, crm, feedback, batch_id="b1")
    again = poll_crm_outcomes(con, crm, feedback, batch_id="b2")

    assert first.outcomes_landed == 2 and first.ingest.accepted == 2, first
    assert again.changes_read == 0
    rows = con.execute(
        "select lead_id, kind, to_owner_id, from_owner_id, status, actor, actor_type from raw.outcome_events"
        " order by kind"
    ).fetchall()
    assert rows == [
        ("lead-1", "owner_reassigned", "OWN-2", "OWN-1", None, "maria@example.com", "person"),
        ("lead-1", "status_changed", None, None, "unqualified", "maria@example.com", "person"),
    ]


def test_a_crm_without_a_change_feed_is_reported_not_polled(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))

    result = poll_crm_outcomes(con, object(), tmp_path / "feedback", batch_id="b")

    assert not result.supported
