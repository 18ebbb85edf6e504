"""An in-memory EmailSender that renders through the same templates and keeps one message per key."""

from __future__ import annotations

from integrations.email.port import OutboundEmail, SentEmail, message_id_for
from integrations.email.templates import RenderedEmail, TemplateLibrary


class FakeEmailSender:
    def __init__(self, templates: TemplateLibrary, *, message_id_domain: str = "leadops.test") -> None:
        self._templates = templates
        self._domain = message_id_domain
        self.sent: dict[str, tuple[OutboundEmail, RenderedEmail, SentEmail]] = {}

    def send(self, email: OutboundEmail, *, idempotency_key: str) -> SentEmail:
        rendered = self._templates.render(email.template, email.slots)
        if idempotency_key in self.sent:
            return self.sent[idempotency_key][2]
        result = SentEmail(
            template=rendered.template,
            version=rendered.version,
            message_id=message_id_for(idempotency_key, domain=self._domain),
        )
        self.sent[idempotency_key] = (email, rendered, result)
        return result
