"""The email port: send one rendered, approved template to one lead, at most once per idempotency key.

SMTP has no way to ask "did you already take this message?", so the adapter cannot check for itself. What it
guarantees instead: the Message-ID is derived from the idempotency key, so a resend after a crash carries the
same Message-ID as the first (mail clients and most mailbox providers show one message, the CRM's mail log
matches it), and the outbox, which records the key before it sends, does the at-most-once bookkeeping.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class EmailError(Exception):
    """An email could not be sent."""


class EmailTransientError(EmailError):
    """Worth sending again later (server busy, greylisting, lost connection)."""


class EmailPermanentError(EmailError):
    """Sending again gives the same failure (recipient refused, bad credentials, template fault)."""


class TemplateError(EmailPermanentError):
    """The template is unknown, unapproved, malformed, or its slots do not match."""


class OutboundEmail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_id: str = Field(min_length=1)
    to_address: EmailStr
    to_name: str | None = None
    template: str = Field(min_length=1, description="Template name: its file name without .jinja.")
    slots: dict[str, str]
    reply_to: EmailStr | None = Field(default=None, description="Usually the owner, so answers reach them.")


class SentEmail(BaseModel):
    """What to log for every send: which approved text went out, and the Message-ID to find it by."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template: str
    version: int
    message_id: str


def message_id_for(idempotency_key: str, *, domain: str) -> str:
    """A stable RFC 5322 Message-ID: the same key always gives the same id, and the key is not readable."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<leadops.{digest}@{domain}>"


@runtime_checkable
class EmailSender(Protocol):
    def send(self, email: OutboundEmail, *, idempotency_key: str) -> SentEmail: ...
