"""The pure message builders: every notification names the lead, account, intent, deadline, reason and
the explain command, and an alert has exactly one recipient."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from integrations.slack.messages import assignment_message, escalation_message, message_metadata
from integrations.slack.port import AssignmentAlert, Escalation, LeadSummary

LEAD = LeadSummary(lead_id="lead-7", name="Jo Park", account="Acme Ltd", intent="pricing question")
# 13:00 in UTC+2 is 11:00 UTC: the plain text always says UTC.
DEADLINE = datetime(2025, 3, 10, 13, 0, tzinfo=timezone(timedelta(hours=2)))


def test_assignment_text_carries_every_fact_a_rep_needs() -> None:
    alert = AssignmentAlert(
        lead=LEAD, owner_email="rep@example.com", sla_deadline=DEADLINE, reason="Owner of the account."
    )
    message = assignment_message(alert)

    for fact in ("Jo Park", "Acme Ltd", "pricing question", "2025-03-10 11:00 UTC", "Owner of the account."):
        assert fact in message.text
    assert "leadops explain lead-7" in message.text
    rendered = str(message.blocks)
    assert "leadops explain lead-7" in rendered and "<!date^1741604400^" in rendered


def test_escalation_text_names_the_current_owner_and_reason() -> None:
    escalation = Escalation(
        lead=LEAD, review_channel="C1", sla_deadline=DEADLINE, reason="SLA at risk.", current_owner="Ana"
    )
    message = escalation_message(escalation)

    assert message.text.startswith("Needs review: Jo Park at Acme Ltd (pricing question) (owner: Ana)")
    assert "SLA at risk." in message.text and "leadops explain lead-7" in message.text


@pytest.mark.parametrize(
    "recipients",
    [{}, {"owner_email": "rep@example.com", "team_channel": "C1"}],
    ids=["none", "both"],
)
def test_an_alert_goes_to_exactly_one_recipient(recipients: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        AssignmentAlert(lead=LEAD, sla_deadline=DEADLINE, reason="r", **recipients)


def test_a_deadline_without_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError):
        AssignmentAlert(lead=LEAD, team_channel="C1", sla_deadline=datetime(2025, 3, 10, 11), reason="r")


def test_metadata_carries_the_idempotency_key() -> None:
    metadata = message_metadata("k-1", kind="assignment", lead_id="lead-7")

    assert metadata == {
        "event_type": "leadops_notification",
        "event_payload": {"idempotency_key": "k-1", "kind": "assignment", "lead_id": "lead-7"},
    }
