"""The notifier port: what LeadOps tells people about a lead, and how sending can fail.

Every send carries an idempotency key chosen by the caller (the outbox row's key). An adapter must make a
second send with the same key a no-op that answers the first message, so a retry after a crash never
reaches a person twice.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator


class NotifierError(Exception):
    """A message could not be delivered."""


class NotifierTransientError(NotifierError):
    """Worth sending again later (rate limit, Slack outage, lost connection)."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class NotifierPermanentError(NotifierError):
    """Sending again gives the same failure (unknown user, archived channel, bad token): a person must act."""


class LeadSummary(BaseModel):
    """Who the lead is, in the words a rep reads in a notification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    email: EmailStr | None = None
    title: str | None = None
    account: str = Field(min_length=1, description="The company, as routing matched it.")
    intent: str = Field(min_length=1, description="The interpreted intent, e.g. 'demo request'.")


class AssignmentAlert(BaseModel):
    """Tell an owner (by DM) or a team (in its channel) that a lead is theirs and by when to answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: LeadSummary
    owner_name: str | None = None
    owner_email: EmailStr | None = Field(default=None, description="DM the owner found by this address.")
    team_channel: str | None = Field(default=None, description="Or post in this channel, by id (C0…).")
    sla_deadline: AwareDatetime
    reason: str = Field(min_length=1, max_length=300, description="Why this owner, in one sentence.")

    @model_validator(mode="after")
    def _exactly_one_recipient(self) -> AssignmentAlert:
        if (self.owner_email is None) == (self.team_channel is None):
            raise ValueError("an assignment alert goes to exactly one of owner_email or team_channel")
        return self


class Escalation(BaseModel):
    """Ask the review channel to act: an SLA is about to be missed, or a decision needs a person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: LeadSummary
    review_channel: str = Field(min_length=1, description="Channel id (C0…): history lookups need ids.")
    sla_deadline: AwareDatetime
    reason: str = Field(min_length=1, max_length=300)
    current_owner: str | None = None


class PostedMessage(BaseModel):
    """Where a message landed; `already_posted` is True when a previous send with the same key is answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    ts: str
    idempotency_key: str
    already_posted: bool = False


@runtime_checkable
class Notifier(Protocol):
    def send_assignment(self, alert: AssignmentAlert, *, idempotency_key: str) -> PostedMessage: ...

    def send_escalation(self, escalation: Escalation, *, idempotency_key: str) -> PostedMessage: ...
