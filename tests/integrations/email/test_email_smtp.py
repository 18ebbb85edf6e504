"""The SMTP sender against a real local SMTP server: template name and version travel with every email,
the Message-ID follows the idempotency key, and failures are sorted transient or permanent."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.email.port import (
    EmailPermanentError,
    EmailSender,
    EmailTransientError,
    OutboundEmail,
    TemplateError,
    message_id_for,
)
from integrations.email.smtp import SmtpEmailSender, SmtpSettings
from integrations.email.templates import TemplateLibrary
from tests.integrations.email.smtp_catcher import PASSWORD, USERNAME, SmtpCatcher, free_loopback_port

SLOTS = {
    "first_name": "Maya",
    "account": "Northwind Payments",
    "product": "Payouts API",
    "owner_name": "Ana Owner",
    "owner_title": "Account Executive",
}


def first_touch(**overrides: object) -> OutboundEmail:
    fields: dict[str, object] = {
        "lead_id": "lead-0042",
        "to_address": "maya@northwind.example",
        "to_name": "Maya Lindqvist",
        "template": "first_touch",
        "slots": SLOTS,
        "reply_to": "ana.owner@example.com",
    }
    return OutboundEmail.model_validate({**fields, **overrides})


def settings_for(catcher: SmtpCatcher, **overrides: object) -> SmtpSettings:
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": catcher.port,
        "security": "none",
        "from_address": "sales@leadops.example",
        "from_name": "LeadOps Sales",
        "message_id_domain": "leadops.example",
        "timeout_seconds": 3,
    }
    return SmtpSettings.model_validate({**fields, **overrides})


def test_sender_satisfies_the_email_port(smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    assert isinstance(SmtpEmailSender(settings_for(smtp), templates), EmailSender)


def test_a_sent_email_carries_its_template_name_and_version(
    smtp: SmtpCatcher, templates: TemplateLibrary
) -> None:
    sent = SmtpEmailSender(settings_for(smtp), templates).send(
        first_touch(), idempotency_key="email:lead-0042:1"
    )

    [message] = smtp.handler.messages
    assert (sent.template, sent.version) == ("first_touch", 2)
    assert message["X-LeadOps-Template"] == "first_touch"
    assert message["X-LeadOps-Template-Version"] == "2"
    assert message["X-LeadOps-Lead-Id"] == "lead-0042"
    assert message["Message-ID"] == sent.message_id
    assert message["Subject"] == "Maya, about Northwind Payments and Payouts API"
    assert message["Reply-To"] == "ana.owner@example.com"
    assert "Hi Maya," in message.get_content() and "Ana Owner" in message.get_content()
    assert smtp.handler.envelopes == [("sales@leadops.example", ["maya@northwind.example"])]


def test_the_message_id_is_derived_from_the_idempotency_key(
    smtp: SmtpCatcher, templates: TemplateLibrary
) -> None:
    sender = SmtpEmailSender(settings_for(smtp), templates)

    first = sender.send(first_touch(), idempotency_key="email:lead-0042:1")
    resent = sender.send(first_touch(), idempotency_key="email:lead-0042:1")
    other = sender.send(first_touch(), idempotency_key="email:lead-0042:2")

    assert (
        first.message_id == resent.message_id == message_id_for("email:lead-0042:1", domain="leadops.example")
    )
    assert other.message_id != first.message_id
    assert "email:lead-0042" not in first.message_id


def test_a_missing_slot_stops_the_send_before_any_connection(
    smtp: SmtpCatcher, templates: TemplateLibrary
) -> None:
    slots = {k: v for k, v in SLOTS.items() if k != "owner_title"}

    with pytest.raises(TemplateError, match="missing slots \\['owner_title'\\]"):
        SmtpEmailSender(settings_for(smtp), templates).send(first_touch(slots=slots), idempotency_key="k")
    assert not smtp.handler.messages


def test_a_refused_recipient_is_permanent(smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    smtp.handler.refuse_recipients.add("maya@northwind.example")

    with pytest.raises(EmailPermanentError, match="recipient refused"):
        SmtpEmailSender(settings_for(smtp), templates).send(first_touch(), idempotency_key="k")


def test_a_greylisting_server_is_transient(smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    smtp.handler.data_replies.append("451 4.7.1 Greylisted, try again later")

    with pytest.raises(EmailTransientError, match="451"):
        SmtpEmailSender(settings_for(smtp), templates).send(first_touch(), idempotency_key="k")


def test_a_rejected_message_is_permanent(smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    smtp.handler.data_replies.append("554 5.7.1 Message rejected as spam")

    with pytest.raises(EmailPermanentError, match="554"):
        SmtpEmailSender(settings_for(smtp), templates).send(first_touch(), idempotency_key="k")


def test_an_unreachable_server_is_transient(templates: TemplateLibrary) -> None:
    settings = SmtpSettings(
        host="127.0.0.1",
        port=free_loopback_port(),
        security="none",
        from_address="sales@leadops.example",
        message_id_domain="leadops.example",
        timeout_seconds=1,
    )

    with pytest.raises(EmailTransientError, match="unreachable"):
        SmtpEmailSender(settings, templates).send(first_touch(), idempotency_key="k")


def test_starttls_and_login_come_from_settings(tls_smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    tls_smtp.handler.reset()
    settings = settings_for(
        tls_smtp, security="starttls", username=USERNAME, password=PASSWORD, ca_file=tls_smtp.ca_file
    )

    sent = SmtpEmailSender(settings, templates).send(first_touch(), idempotency_key="k")

    [message] = tls_smtp.handler.messages
    assert message["Message-ID"] == sent.message_id


def test_a_wrong_password_is_permanent(tls_smtp: SmtpCatcher, templates: TemplateLibrary) -> None:
    settings = settings_for(
        tls_smtp, security="starttls", username=USERNAME, password="wrong", ca_file=tls_smtp.ca_file
    )

    with pytest.raises(EmailPermanentError, match="login rejected"):
        SmtpEmailSender(settings, templates).send(first_touch(), idempotency_key="k")


def test_a_server_that_requires_tls_refuses_a_plain_sender(
    tls_smtp: SmtpCatcher, templates: TemplateLibrary
) -> None:
    with pytest.raises(EmailPermanentError):
        SmtpEmailSender(settings_for(tls_smtp), templates).send(first_touch(), idempotency_key="k")


def test_an_unapproved_template_is_never_sent(smtp: SmtpCatcher, tmp_path: Path) -> None:
    (tmp_path / "draft.jinja").write_text(
        "---\nversion: 1\napproved: false\nsubject: Hi\nslots: [first_name]\n---\nHi {{ first_name }}\n"
    )
    sender = SmtpEmailSender(settings_for(smtp), TemplateLibrary(tmp_path))

    with pytest.raises(TemplateError, match="not approved"):
        sender.send(first_touch(template="draft", slots={"first_name": "Maya"}), idempotency_key="k")
    assert not smtp.handler.messages
