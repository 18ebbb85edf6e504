"""An in-memory notifier with the port's idempotency: a repeated key answers the first message."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.slack.messages import SlackMessage, assignment_message, escalation_message
from integrations.slack.port import AssignmentAlert, Escalation, PostedMessage


@dataclass(frozen=True)
class FakeSent:
    channel: str
    kind: str
    lead_id: str
    message: SlackMessage
    posted: PostedMessage


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[FakeSent] = []
        self._by_key: dict[str, PostedMessage] = {}

    def send_assignment(self, alert: AssignmentAlert, *, idempotency_key: str) -> PostedMessage:
        channel = f"DM:{alert.owner_email}" if alert.owner_email else str(alert.team_channel)
        return self._post(
            channel, "assignment", alert.lead.lead_id, assignment_message(alert), idempotency_key
        )

    def send_escalation(self, escalation: Escalation, *, idempotency_key: str) -> PostedMessage:
        message = escalation_message(escalation)
        return self._post(
            escalation.review_channel, "escalation", escalation.lead.lead_id, message, idempotency_key
        )

    def _post(self, channel: str, kind: str, lead_id: str, message: SlackMessage, key: str) -> PostedMessage:
        if key in self._by_key:
            return self._by_key[key].model_copy(update={"already_posted": True})
        posted = PostedMessage(channel=channel, ts=f"{len(self.sent) + 1}.000000", idempotency_key=key)
        self._by_key[key] = posted
        self.sent.append(FakeSent(channel, kind, lead_id, message, posted))
        return posted
