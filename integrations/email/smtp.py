"""EmailSender over SMTP (smtplib): plain, STARTTLS or implicit TLS, optional login, all from settings.

Failures are sorted for the outbox: 4xx replies, dropped connections and timeouts are transient; 5xx
replies, refused recipients and rejected credentials are permanent.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr

from integrations.email.port import (
    EmailPermanentError,
    EmailTransientError,
    OutboundEmail,
    SentEmail,
    message_id_for,
)
from integrations.email.templates import TemplateLibrary

TEMPLATE_HEADER = "X-LeadOps-Template"
TEMPLATE_VERSION_HEADER = "X-LeadOps-Template-Version"
LEAD_HEADER = "X-LeadOps-Lead-Id"


class SmtpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: EmailStr
    from_name: str | None = None
    message_id_domain: str = Field(min_length=1, description="Right-hand side of every Message-ID.")
    timeout_seconds: float = Field(default=10.0, gt=0)
    # None: the system's trust store. Tests and private relays pass their own CA file.
    ca_file: str | None = None


class SmtpEmailSender:
    def __init__(self, settings: SmtpSettings, templates: TemplateLibrary) -> None:
        self._settings = settings
        self._templates = templates

    def build(self, email: OutboundEmail, *, idempotency_key: str) -> EmailMessage:
        """The exact message `send` would hand to the server (rendering failures raise TemplateError)."""
        settings = self._settings
        rendered = self._templates.render(email.template, email.slots)
        message = EmailMessage()
        message["From"] = formataddr((settings.from_name or "", settings.from_address))
        message["To"] = formataddr((email.to_name or "", email.to_address))
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id_for(idempotency_key, domain=settings.message_id_domain)
        message[TEMPLATE_HEADER] = rendered.template
        message[TEMPLATE_VERSION_HEADER] = str(rendered.version)
        message[LEAD_HEADER] = email.lead_id
        message.set_content(rendered.body)
        return message

    def send(self, email: OutboundEmail, *, idempotency_key: str) -> SentEmail:
        message = self.build(email, idempotency_key=idempotency_key)
        try:
            with self._connect() as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise EmailPermanentError(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPAuthenticationError as error:
            raise EmailPermanentError(f"smtp login rejected: {error.smtp_code}") from error
        except smtplib.SMTPResponseException as error:
            kind = EmailTransientError if 400 <= error.smtp_code < 500 else EmailPermanentError
            raise kind(f"smtp answered {error.smtp_code}: {error.smtp_error!r}") from error
        except smtplib.SMTPNotSupportedError as error:
            raise EmailPermanentError(f"smtp server lacks a required feature: {error}") from error
        except (smtplib.SMTPException, OSError) as error:
            # Disconnects, timeouts, refused connections: the server may be back in a minute.
            raise EmailTransientError(f"smtp unreachable or dropped: {error}") from error
        return SentEmail(
            template=message[TEMPLATE_HEADER],
            version=int(message[TEMPLATE_VERSION_HEADER]),
            message_id=message["Message-ID"],
        )

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=context)
            if settings.username:
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp
