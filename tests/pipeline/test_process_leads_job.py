"""The walking skeleton end to end: landing file → raw → dbt → decisions → state log → CRM writes."""

from __future__ import annotations

from collections import Counter

import pytest
from pipeline_helpers import event

pytestmark = pytest.mark.slow


def batch_with_malformed_and_redelivered():
    customer = event(
        "evt-globex-jane", email="Jane.Doe@GlobexCorp.com", first_name="Jane", last_name="Doe",
        company="Globex", source="demo_request",
    )
    smb = event("evt-smb-1", email="owner@smallshop-example.com", company="Small Shop", employees="11-50")
    partner = event(
        "evt-partner-1", source="partner_referral", email="cio@partnerco-example.com",
        partner={"id": "p-42", "name": "Channel Co", "referrer_email": "rep@channelco-example.com"},
    )
    malformed = '{"event_id": "evt-broken", "source": "web_form", "received_at": '
    return [customer, smb, partner, malformed, dict(customer)]


def crm_counts(pipeline):
    from dagster_project.resources.crm import ObjectType

    crm = pipeline.crm
    return {kind: crm.count(kind) for kind in (ObjectType.LEAD, ObjectType.TASK, ObjectType.NOTE)}


def test_batch_with_bad_lines_decides_three_leads_and_accounts_for_every_line(pipeline):
    from dagster_project.resources.crm import ObjectType

    pipeline.land(batch_with_malformed_and_redelivered(), "batch-1.jsonl")
    pipeline.run()

    decisions = pipeline.read("select lead_id, disposition, rule_id, team, owner_id from marts.lead_decisions")
    assert len(decisions) == 3
    by_rule = {rule: (team, owner) for _, _, rule, team, owner in decisions}
    assert by_rule["existing_customer"] == ("amer_enterprise", "own_amer_ent_1")
    assert by_rule["partner_referral"][0] == "partners"
    assert by_rule["territory_segment"][0] == "amer_smb"

    quarantined = pipeline.read("select line_number, reason, raw_text from raw.quarantined_events")
    assert len(quarantined) == 1
    assert quarantined[0][0] == 4 and quarantined[0][1] and "evt-broken" in quarantined[0][2]

    from dagster_project.cli import events_frame, open_reader

    with open_reader(pipeline.settings) as con:
        fates = events_frame(con)
    assert len(fates) == 5
    assert Counter(fates["status"]) == {"processed": 3, "quarantined": 1, "duplicate_delivery": 1}
    assert fates.loc[fates["status"] == "duplicate_delivery", "lead_id"].notna().all()

    counts = crm_counts(pipeline)
    assert counts == {ObjectType.LEAD: 3, ObjectType.TASK: 3, ObjectType.NOTE: 3}
    jane = pipeline.crm.get_record(ObjectType.LEAD, external_id=by_lead_rule(decisions, "existing_customer"))
    assert jane.fields["owner_id"] == "own_amer_ent_1"


def by_lead_rule(decisions, rule_id):
    return next(lead_id for lead_id, _, rule, _, _ in decisions if rule == rule_id)


def test_running_the_same_batch_twice_changes_no_crm_counts(pipeline):
    events = batch_with_malformed_and_redelivered()
    pipeline.land(events, "batch-1.jsonl")
    pipeline.run()
    counts = crm_counts(pipeline)
    deliveries = pipeline.read("select count(*) from raw.event_deliveries")[0][0]

    pipeline.land(events, "batch-1-again.jsonl")  # the same content, redelivered as another file
    pipeline.run()
    pipeline.run()  # and a run with nothing new at all
    assert crm_counts(pipeline) == counts
    assert pipeline.read("select count(*) from raw.event_deliveries")[0][0] == deliveries
    assert pipeline.read("select count(*) from marts.lead_decisions")[0][0] == 3


def test_same_person_submitting_again_updates_one_crm_record(pipeline):
    from dagster_project.resources.crm import ObjectType

    pipeline.land([event("evt-a", email="Sam.Ray@smallshop-example.com", job_title="Analyst")], "a.jsonl")
    pipeline.run()
    pipeline.land(
        [event("evt-b", email="sam.ray+pricing@SmallShop-example.com", job_title="Head of Data",
               source="pricing_inquiry", received_at="2026-11-25T10:00:00Z")],
        "b.jsonl",
    )
    pipeline.run()
    leads = pipeline.read("select lead_id, event_ids from marts.lead_decisions")
    assert len(leads) == 1 and "evt-a" in leads[0][1] and "evt-b" in leads[0][1]
    assert pipeline.crm.count(ObjectType.LEAD) == 1
    record = pipeline.crm.get_record(ObjectType.LEAD, external_id=leads[0][0])
    assert record.fields["job_title"] == "Head of Data" and record.version > 1
    assert pipeline.crm.count(ObjectType.TASK) == 1


def test_round_robin_is_fair_across_batches_and_skips_inactive_owners(pipeline):
    for batch in range(3):
        pipeline.land(
            [
                event(f"evt-rr-{batch}-{i}", email=f"buyer{batch}{i}@shop{batch}{i}-example.com",
                      received_at=f"2026-11-25T1{batch}:0{i}:00Z")
                for i in range(5)
            ],
            f"rr-{batch}.jsonl",
        )
        pipeline.run()
    owners = Counter(
        owner for (owner,) in pipeline.read(
            "select owner_id from marts.lead_decisions where team = 'amer_smb' and rule_id = 'territory_segment'"
        )
    )
    assert sum(owners.values()) == 15
    assert "own_amer_smb_3" not in owners  # inactive
    assert set(owners) == {"own_amer_smb_1", "own_amer_smb_2"}
    assert max(owners.values()) - min(owners.values()) <= 1


def test_explain_shows_rule_and_evidence_for_routed_disqualified_and_escalated_leads(pipeline):
    from dagster_project.cli import explain_text, open_reader

    pipeline.land(
        [
            event("evt-routed", email="ok@smallshop-example.com"),
            event("evt-spam", email="bot@mailinator.com", honeypot="i am a bot"),
            event("evt-apac", email="lead@sg-company-example.com", country="Singapore"),
        ],
        "mixed.jsonl",
    )
    pipeline.run()
    dispositions = dict(pipeline.read("select email, disposition from marts.lead_decisions"))
    assert dispositions == {
        "ok@smallshop-example.com": "route",
        "bot@mailinator.com": "disqualify",
        "lead@sg-company-example.com": "escalate",
    }
    with open_reader(pipeline.settings) as con:
        routed = explain_text(con, "ok@smallshop-example.com")
        spam = explain_text(con, "bot@mailinator.com")
        escalated = explain_text(con, "lead@sg-company-example.com")
    assert "decision: route — rule territory_segment" in routed and "→ routed" in routed
    assert "upsert_lead" in routed and "create_task" in routed
    assert "decision: disqualify — rule spam" in spam and "honeypot_filled" in spam and "→ disqualified" in spam
    assert "decision: escalate" in escalated and "→ escalated" in escalated
    assert "evidence:" in escalated
