"""Issue checks on the real job: one person writing twice is one lead and one CRM record; a free-mail lead
naming a known company is escalated with its candidate account; an unmerge flows downstream; an operator's
reroute wins on the next run and shows in `leadops explain` with its actor.

Three runs of the real job on one data home (module fixture), then assertions on what they left behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from dagster import DagsterInstance
from pipeline_helpers import event

pytestmark = pytest.mark.slow

OPERATOR = "ria.revops@leadops-demo.com"
UNMERGE_BOB = [
    "identity",
    "unmerge",
    "--event",
    "evt-bob-pricing",
    "--reason",
    "two people",
    "--actor",
    OPERATOR,
]


def first_batch():
    return [
        event(
            "evt-robert-form",
            email="Robert.Miles@smallshop-example.com",
            first_name="Robert",
            last_name="Miles",
            company="Small Shop",
            received_at="2026-11-25T09:00:00Z",
        ),
        # Same person: other case, a plus-address, a nickname, another source.
        event(
            "evt-bob-pricing",
            source="pricing_inquiry",
            email="ROBERT.MILES+pricing@SmallShop-example.com",
            first_name="Bob",
            last_name="Miles",
            company="Small Shop Inc.",
            message="",
            received_at="2026-11-25T09:05:00Z",
        ),
        # A free-mail address naming a CRM customer (Globex Corporation): never auto-linked.
        event(
            "evt-free-mail-globex",
            email="jane.private@gmail.com",
            first_name="Jane",
            last_name="Doe",
            company="Globex Corp",
            received_at="2026-11-25T09:10:00Z",
        ),
        event(
            "evt-to-reroute",
            email="kim@shop10-example.com",
            first_name="Kim",
            last_name="Lee",
            received_at="2026-11-25T09:15:00Z",
        ),
    ]


@dataclass
class Runs:
    pipeline: object
    after_first: dict
    after_second: dict
    explain_rerouted: str
    explain_unmerged: str


def _decisions(pipeline) -> dict:
    rows = pipeline.read(
        "select d.lead_id, d.event_ids, d.rule_id, d.disposition, d.owner_id, d.decided_by, d.override_id,"
        " d.reason, d.account_review_candidate_id, d.account_review_probability"
        " from marts.lead_decisions d"
    )
    by_event = {}
    for row in rows:
        for event_id in row[1].split(";"):
            by_event[event_id] = dict(
                zip(
                    [
                        "lead_id",
                        "event_ids",
                        "rule_id",
                        "disposition",
                        "owner_id",
                        "decided_by",
                        "override_id",
                        "reason",
                        "account_review_candidate_id",
                        "account_review_probability",
                    ],
                    row,
                    strict=True,
                )
            )
    return by_event


@pytest.fixture(scope="module")
def runs(prepared_warehouse) -> Runs:
    from dagster_project.cli import explain_text, main, open_reader

    monkeypatch = pytest.MonkeyPatch()
    with DagsterInstance.ephemeral() as instance:
        try:
            pipeline = prepared_warehouse.open(monkeypatch, instance)
            pipeline.land(first_batch(), name="first")
            pipeline.run()
            after_first = _decisions(pipeline)

            reroute = after_first["evt-to-reroute"]
            assert (
                main(
                    [
                        "override",
                        "reroute",
                        "--lead",
                        reroute["lead_id"],
                        "--owner",
                        "own_amer_mm_1",
                        "--reason",
                        "named account list",
                        "--actor",
                        OPERATOR,
                    ]
                )
                == 0
            )
            assert main(UNMERGE_BOB) == 0
            correction = ["--field", "company", "--value", "Lee Holdings", "--reason", "typo on the form"]
            assert (
                main(["override", "correct", "--lead", reroute["lead_id"], *correction, "--actor", OPERATOR])
                == 0
            )
            pipeline.run()
            after_second = _decisions(pipeline)
            with open_reader(pipeline.settings) as con:
                explain_rerouted = explain_text(con, reroute["lead_id"])
                explain_unmerged = explain_text(con, after_first["evt-robert-form"]["lead_id"])
            yield Runs(pipeline, after_first, after_second, explain_rerouted, explain_unmerged)
        finally:
            monkeypatch.undo()


def test_one_person_writing_twice_is_one_lead_and_one_crm_record(runs: Runs) -> None:
    first, second = runs.after_first["evt-robert-form"], runs.after_first["evt-bob-pricing"]
    assert first["lead_id"] == second["lead_id"]
    assert first["event_ids"] == "evt-robert-form;evt-bob-pricing"
    writes = runs.pipeline.read(
        "select count(distinct crm_record_id) from ops.crm_writes"
        " where lead_id = ? and operation = 'upsert_lead'",
        [first["lead_id"]],
    )
    assert writes[0][0] <= 1
    from integrations.crm.models import ObjectType

    assert runs.pipeline.crm.get_record(ObjectType.LEAD, external_id=first["lead_id"]) is not None
    # One CRM lead per lead (the unmerge of the second run made one more), none per event.
    assert runs.pipeline.crm.count(ObjectType.LEAD) == len({d["lead_id"] for d in runs.after_second.values()})


def test_free_mail_lead_naming_a_known_company_is_escalated_with_its_candidate(runs: Runs) -> None:
    decision = runs.after_first["evt-free-mail-globex"]
    assert decision["disposition"] == "escalate"
    assert decision["rule_id"] == "low_confidence_match"
    assert decision["account_review_candidate_id"] == "acc_globex"
    assert 0.6 <= decision["account_review_probability"] < 0.95
    assert "acc_globex" in decision["reason"] and "p=0." in decision["reason"]
    queue = runs.pipeline.read(
        "select escalation_reason, account_review_candidate_id, suggested_action from marts.review_queue"
        " where lead_id = ?",
        [decision["lead_id"]],
    )
    assert queue and queue[0][:2] == ("low_confidence_match", "acc_globex")


def test_an_override_reroute_wins_on_the_next_run_and_is_logged_with_its_actor(runs: Runs) -> None:
    before, after = runs.after_first["evt-to-reroute"], runs.after_second["evt-to-reroute"]
    assert before["owner_id"] != "own_amer_mm_1"
    assert after["owner_id"] == "own_amer_mm_1"
    assert (after["rule_id"], after["decided_by"]) == ("override", OPERATOR)
    steps = runs.pipeline.read(
        "select from_state, to_state, actor, evidence_json from ops.lead_state_log"
        " where lead_id = ? order by seq",
        [after["lead_id"]],
    )
    assert steps[-1][:3] == ("routed", "routed", OPERATOR)
    evidence = json.loads(steps[-1][3])
    assert evidence["override_id"] == after["override_id"]
    assert evidence["previous_owner_id"] == before["owner_id"]
    assert OPERATOR in runs.explain_rerouted and after["override_id"] in runs.explain_rerouted


def test_a_corrected_record_reaches_the_crm_on_the_next_run(runs: Runs) -> None:
    from integrations.crm.models import ObjectType

    lead_id = runs.after_second["evt-to-reroute"]["lead_id"]
    record = runs.pipeline.crm.get_record(ObjectType.LEAD, external_id=lead_id)
    assert record.fields["company"] == "Lee Holdings"


def test_an_unmerge_flows_downstream_and_into_explain(runs: Runs) -> None:
    kept, split = runs.after_second["evt-robert-form"], runs.after_second["evt-bob-pricing"]
    assert kept["lead_id"] != split["lead_id"]
    assert kept["event_ids"] == "evt-robert-form"
    assert split["event_ids"] == "evt-bob-pricing"
    lead_of_event = dict(runs.pipeline.read("select event_id, lead_id from marts.lead_events"))
    assert lead_of_event["evt-bob-pricing"] == split["lead_id"]
    assert "unmerged" in runs.explain_unmerged and OPERATOR in runs.explain_unmerged
