"""The Slack adapter against a real local Web API: DMs by email, channels, at-most-once, 429s, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from integrations.slack.port import (
    AssignmentAlert,
    Escalation,
    LeadSummary,
    Notifier,
    NotifierPermanentError,
    NotifierTransientError,
)
from integrations.slack.web_api import SlackWebApiNotifier, web_client
from tests.integrations.slack.slack_api_server import TOKEN, SlackApiServer

LEAD = LeadSummary(
    lead_id="lead-0042",
    name="Maya Lindqvist",
    email="maya@northwind.example",
    title="CFO",
    account="Northwind Payments",
    intent="demo request",
)
DEADLINE = datetime(2025, 3, 10, 11, 30, tzinfo=UTC)


def dm_alert() -> AssignmentAlert:
    return AssignmentAlert(
        lead=LEAD,
        owner_email="ana.owner@example.com",
        sla_deadline=DEADLINE,
        reason="EMEA fintech above 1,000 employees goes to the strategic team.",
    )


def test_adapter_satisfies_the_notifier_port(notifier: SlackWebApiNotifier) -> None:
    assert isinstance(notifier, Notifier)


def test_assignment_alert_reaches_the_owner_by_dm_found_by_email(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    posted = notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")

    [message] = slack.messages_in("DU0ANA")
    assert posted.channel == "DU0ANA" and posted.ts == message.ts and not posted.already_posted
    assert "Maya Lindqvist" in message.text and "leadops explain lead-0042" in message.text
    assert message.metadata["event_payload"]["idempotency_key"] == "assign:lead-0042:1"
    assert [c.method for c in slack.calls][:2] == ["users.lookupByEmail", "conversations.open"]


def test_alert_is_posted_exactly_once_when_sent_twice_with_the_same_key(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    first = notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")
    # A fresh adapter, as after a crash and restart: nothing is remembered in the process.
    restarted = SlackWebApiNotifier(web_client(TOKEN, base_url=slack.base_url, timeout_seconds=3))
    second = restarted.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")

    assert len(slack.calls_to("chat.postMessage")) == 1
    assert len(slack.messages_in("DU0ANA")) == 1
    assert second.already_posted and second.ts == first.ts


def test_a_different_key_posts_a_new_message(notifier: SlackWebApiNotifier, slack: SlackApiServer) -> None:
    notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")
    notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:2")

    assert len(slack.messages_in("DU0ANA")) == 2


def test_team_alert_is_posted_in_the_team_channel(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    alert = AssignmentAlert(
        lead=LEAD,
        team_channel="C0EMEA",
        owner_name="Strategic EMEA",
        sla_deadline=DEADLINE,
        reason="Round robin.",
    )
    notifier.send_assignment(alert, idempotency_key="assign:lead-0042:team")

    [message] = slack.messages_in("C0EMEA")
    assert "Strategic EMEA" in message.blocks[0]["text"]["text"]
    assert not slack.calls_to("users.lookupByEmail")


def test_escalation_goes_to_the_review_channel_once(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    escalation = Escalation(
        lead=LEAD,
        review_channel="C0REVIEW",
        sla_deadline=DEADLINE,
        reason="No first touch 20 minutes before the SLA.",
        current_owner="Ana Owner",
    )
    notifier.send_escalation(escalation, idempotency_key="escalate:lead-0042:sla")
    notifier.send_escalation(escalation, idempotency_key="escalate:lead-0042:sla")

    [message] = slack.messages_in("C0REVIEW")
    assert message.text.startswith("Needs review: Maya Lindqvist")
    assert message.metadata["event_payload"]["kind"] == "escalation"


def test_the_key_is_found_beyond_the_first_history_page(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    alert = AssignmentAlert(lead=LEAD, team_channel="C0EMEA", sla_deadline=DEADLINE, reason="Round robin.")
    notifier.send_assignment(alert, idempotency_key="assign:old")
    slack.post_chatter("C0EMEA", 205)  # more than one 200-message page of newer traffic

    again = notifier.send_assignment(alert, idempotency_key="assign:old")

    assert again.already_posted
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_rate_limited_post_is_retried_after_retry_after(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1)

    notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")

    limited, retried = slack.calls_to("chat.postMessage")
    assert (limited.status, retried.status) == (429, 200)
    assert retried.at_monotonic - limited.at_monotonic >= 1.0
    assert len(slack.messages_in("DU0ANA")) == 1


def test_a_long_retry_after_goes_back_to_the_caller_as_transient(slack: SlackApiServer) -> None:
    notifier = SlackWebApiNotifier(web_client(TOKEN, base_url=slack.base_url, max_retry_after_seconds=5))
    slack.rate_limit_next("chat.postMessage", retry_after=120)

    started = time.monotonic()
    with pytest.raises(NotifierTransientError) as raised:
        notifier.send_assignment(dm_alert(), idempotency_key="assign:lead-0042:1")

    assert raised.value.retry_after_seconds == 120
    assert time.monotonic() - started < 2
    assert not slack.messages


def test_unknown_owner_email_is_a_permanent_error(
    notifier: SlackWebApiNotifier, slack: SlackApiServer
) -> None:
    alert = dm_alert().model_copy(update={"owner_email": "left.company@example.com"})

    with pytest.raises(NotifierPermanentError, match="users_not_found"):
        notifier.send_assignment(alert, idempotency_key="k")


def test_archived_channel_is_a_permanent_error(notifier: SlackWebApiNotifier, slack: SlackApiServer) -> None:
    slack.add_channel("C0OLD", "old-team", archived=True)
    alert = AssignmentAlert(lead=LEAD, team_channel="C0OLD", sla_deadline=DEADLINE, reason="Round robin.")

    with pytest.raises(NotifierPermanentError, match="is_archived"):
        notifier.send_assignment(alert, idempotency_key="k")


@pytest.mark.parametrize("error", ["internal_error", "service_unavailable", "fatal_error"])
def test_slack_side_failures_are_transient(
    notifier: SlackWebApiNotifier, slack: SlackApiServer, error: str
) -> None:
    slack.fail_next("chat.postMessage", error)

    with pytest.raises(NotifierTransientError, match=error):
        notifier.send_assignment(dm_alert(), idempotency_key="k")


def test_http_5xx_is_transient(notifier: SlackWebApiNotifier, slack: SlackApiServer) -> None:
    slack.fail_next("conversations.history", "boom", status=502)

    with pytest.raises(NotifierTransientError):
        notifier.send_assignment(dm_alert(), idempotency_key="k")
    assert not slack.messages


def test_a_bad_token_is_permanent(slack: SlackApiServer) -> None:
    notifier = SlackWebApiNotifier(web_client("xoxb-wrong", base_url=slack.base_url))

    with pytest.raises(NotifierPermanentError, match="invalid_auth"):
        notifier.send_assignment(dm_alert(), idempotency_key="k")


def test_an_unreachable_slack_is_transient() -> None:
    with SlackApiServer() as gone:
        base_url = gone.base_url
    notifier = SlackWebApiNotifier(web_client(TOKEN, base_url=base_url, timeout_seconds=1))

    with pytest.raises(NotifierTransientError, match="unreachable"):
        notifier.send_escalation(
            Escalation(lead=LEAD, review_channel="C0REVIEW", sla_deadline=DEADLINE, reason="r"),
            idempotency_key="k",
        )
