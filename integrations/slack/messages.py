"""Pure builders: the text and Block Kit blocks of each notification, from its typed payload.

The plain `text` is what push notifications and screen readers show, so it carries the essentials on its
own; the blocks lay the same facts out for the channel view. Nothing here talks to Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.slack.port import AssignmentAlert, Escalation, LeadSummary

# The one metadata event type LeadOps posts with; idempotency lookups only trust messages of this type.
METADATA_EVENT_TYPE = "leadops_notification"


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict[str, Any]]


def explain_command(lead_id: str) -> str:
    return f"leadops explain {lead_id}"


def _deadline(deadline: datetime) -> str:
    # Slack's date token renders in each reader's own time zone; the fallback text is UTC.
    utc = deadline.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _who(lead: LeadSummary) -> str:
    title = f", {lead.title}" if lead.title else ""
    email = f" ({lead.email})" if lead.email else ""
    return f"*{lead.name}*{title} at *{lead.account}*{email}"


def _fields(lead: LeadSummary, deadline: datetime) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*Account*\n{lead.account}"},
            {"type": "mrkdwn", "text": f"*Intent*\n{lead.intent}"},
            {"type": "mrkdwn", "text": f"*Answer by*\n{_deadline(deadline)}"},
            {"type": "mrkdwn", "text": f"*Lead*\n`{lead.lead_id}`"},
        ],
    }


def _explain_block(lead_id: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Why this lead went here: `{explain_command(lead_id)}`"}],
    }


def assignment_message(alert: AssignmentAlert) -> SlackMessage:
    lead = alert.lead
    addressee = "You have" if alert.owner_email else f"{alert.owner_name or 'This team'} has"
    headline = f"{addressee} a new lead: {_who(lead)}"
    text = (
        f"New lead {lead.name} at {lead.account} ({lead.intent}); answer by "
        f"{alert.sla_deadline.astimezone(UTC):%Y-%m-%d %H:%M} UTC. {alert.reason} "
        f"Details: {explain_command(lead.lead_id)}"
    )
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        _fields(lead, alert.sla_deadline),
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Why you:* {alert.reason}"}},
        _explain_block(lead.lead_id),
    ]
    return SlackMessage(text=text, blocks=blocks)


def escalation_message(escalation: Escalation) -> SlackMessage:
    lead = escalation.lead
    owner = f" (owner: {escalation.current_owner})" if escalation.current_owner else ""
    text = (
        f"Needs review: {lead.name} at {lead.account} ({lead.intent}){owner}; SLA "
        f"{escalation.sla_deadline.astimezone(UTC):%Y-%m-%d %H:%M} UTC. {escalation.reason} "
        f"Details: {explain_command(lead.lead_id)}"
    )
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f":rotating_light: Needs review: {_who(lead)}{owner}"},
        },
        _fields(lead, escalation.sla_deadline),
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Reason:* {escalation.reason}"}},
        _explain_block(lead.lead_id),
    ]
    return SlackMessage(text=text, blocks=blocks)


def message_metadata(idempotency_key: str, *, kind: str, lead_id: str) -> dict[str, Any]:
    """Slack message metadata: machine-readable, invisible to readers, returned by conversations.history."""
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"idempotency_key": idempotency_key, "kind": kind, "lead_id": lead_id},
    }
