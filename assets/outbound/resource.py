"""The outbox as a Dagster resource: its retry policy (values from `Settings.outbox`) and the clients of
the notification targets (Slack, SMTP, CalDAV), each optional.

A target whose settings are not given has no client, so its action kinds are never planned and a default
installation sends nothing but CRM writes. Secrets (the Slack token, the SMTP and CalDAV passwords) come
from the definitions as EnvVar, never as values in run configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from assets.outbound.notifications import CALENDAR_TARGET, EMAIL_TARGET, SLACK_TARGET
from assets.outbound.outbox import RetryPolicy

_DEFAULT = RetryPolicy()


def owner_calendar_url(base_url: str, username: str | None, owner_id: str) -> str:
    """Each owner's calendar is `<LEADOPS_CALDAV_URL>/<service user>/<owner id>/` (Radicale's layout of
    calendars the service account owns; a shared calendar per owner on other servers)."""
    user = f"{username}/" if username else ""
    return f"{base_url.rstrip('/')}/{user}{owner_id}/"


class OutboxResource(dg.ConfigurableResource):
    """How often a failing action is tried again before it is parked as a dead letter, and where the
    notification actions go (Slack, SMTP, CalDAV: each only when configured)."""

    max_attempts: int = Field(default=_DEFAULT.max_attempts, ge=1, description="Sends before parking.")
    retry_base_seconds: float = Field(
        default=_DEFAULT.base_delay_seconds, gt=0, description="Backoff after the first failure."
    )
    retry_max_seconds: float = Field(
        default=_DEFAULT.max_delay_seconds, gt=0, description="Longest backoff between two sends."
    )

    slack_token: str | None = Field(default=None, description="Slack bot token (xoxb-…).")
    slack_base_url: str | None = Field(
        default=None, description="Slack Web API base URL ending in /api/; Slack's own if unset."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; no acknowledgement email if unset.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = Field(default=None, description="The From address of acknowledgement emails.")
    email_templates_dir: str | None = Field(default=None, description="The policy's approved templates.")
    caldav_url: str | None = Field(default=None, description="CalDAV server; no auto-booking if unset.")
    caldav_user: str | None = None
    caldav_password: str | None = None

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.retry_base_seconds, self.retry_max_seconds)

    def clients(self) -> dict[str, Any]:
        """The configured targets' clients, keyed as the outbox's action kinds name their targets."""
        clients: dict[str, Any] = {}
        if self.slack_token:
            from integrations.slack.web_api import SlackWebApiNotifier, web_client

            client = (
                web_client(self.slack_token, base_url=self.slack_base_url)
                if self.slack_base_url
                else web_client(self.slack_token)
            )
            clients[SLACK_TARGET] = SlackWebApiNotifier(client)
        if self.smtp_host and self.smtp_from and self.email_templates_dir:
            from integrations.email.smtp import SmtpEmailSender, SmtpSettings
            from integrations.email.templates import TemplateLibrary

            settings = SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                security=self.smtp_security,
                username=self.smtp_user,
                password=self.smtp_password,
                from_address=self.smtp_from,
                message_id_domain=self.smtp_from.rsplit("@", 1)[-1],
            )
            clients[EMAIL_TARGET] = SmtpEmailSender(settings, TemplateLibrary(Path(self.email_templates_dir)))
        if self.caldav_url:
            clients[CALENDAR_TARGET] = self._calendar_for

        return clients

    def _calendar_for(self, owner_id: str):
        from integrations.calendar.caldav_adapter import CalDavCalendar

        url = str(self.caldav_url)
        return CalDavCalendar(
            url,
            username=self.caldav_user,
            password=self.caldav_password,
            calendar_urls={owner_id: owner_calendar_url(url, self.caldav_user, owner_id)},
        )
