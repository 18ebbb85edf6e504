"""Issue #15 on the real job: events that share an oversized blocking key (a load test's "Test User")
do not stop the run; each is decided or escalated once, and `leadops explain` says why it was not linked.
"""

from __future__ import annotations

import pytest
from dagster import DagsterInstance
from pipeline_helpers import event

pytestmark = pytest.mark.slow

# 2,000 candidate pairs at most, so one blocking key may make 100: the 70 "Test User" events below make
# 2,415 in their name-and-country block, which failed the pair-volume guard on every run before.
MAX_CANDIDATE_PAIRS = "2000"
TEST_USERS = 70


def test_a_load_test_sharing_one_name_is_escalated_and_the_run_goes_on(prepared_warehouse) -> None:
    from dagster_project.cli import explain_text, open_reader
    from dagster_project.settings import Settings

    monkeypatch = pytest.MonkeyPatch()
    with DagsterInstance.ephemeral() as instance:
        try:
            pipeline = prepared_warehouse.open(monkeypatch, instance)
            monkeypatch.setenv("LEADOPS_IDENTITY_MAX_CANDIDATE_PAIRS", MAX_CANDIDATE_PAIRS)
            pipeline.settings = Settings.from_env()
            load_test = [
                event(
                    f"evt-load-{i:02d}",
                    email=f"load{i:02d}@loadgen-example.com",
                    first_name="Test",
                    last_name="User",
                    received_at=f"2026-11-25T09:{i // 60:02d}:{i % 60:02d}Z",
                )
                for i in range(TEST_USERS)
            ]
            pipeline.land([*load_test, event("evt-real", received_at="2026-11-25T10:00:00Z")], name="load")
            pipeline.run()
            reasons = dict(pipeline.read("select event_id, person_review_reason from identity.event_matches"))
            lead_of = dict(pipeline.read("select event_id, lead_id from marts.lead_events"))
            queue = pipeline.read(
                "select lead_id, escalation_reason, person_review_candidate_person_id from marts.review_queue"
            )
            decided_because = dict(pipeline.read("select lead_id, reason from marts.lead_decisions"))
            with open_reader(pipeline.settings) as con:
                explained = explain_text(con, lead_of["evt-load-05"])
        finally:
            monkeypatch.undo()

    load_events = [event_id for event_id in reasons if event_id.startswith("evt-load-")]
    assert len(load_events) == TEST_USERS
    assert all(reasons[event_id].startswith("blocking_key_oversized:") for event_id in load_events)
    # One lead per load-test event, each in the review queue once, with another event of the block as the
    # candidate; the other event was scored as usual.
    load_leads = {lead_of[event_id] for event_id in load_events}
    assert len(load_leads) == TEST_USERS
    queued = [row for row in queue if row[0] in load_leads]
    assert len(queued) == TEST_USERS and {row[0] for row in queued} == load_leads
    assert all(rule == "low_confidence_match" and candidate for _, rule, candidate in queued)
    # The reviewer reads why no probability is given: identity's reason, in the decision's own words.
    assert all("(not scored: blocking_key_oversized: rule" in decided_because[lead] for lead in load_leads)
    assert reasons["evt-real"] is None
    assert "blocking_key_oversized: rule (first_name, last_name, country_code)" in explained
