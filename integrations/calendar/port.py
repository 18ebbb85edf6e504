"""The calendar port: read an owner's busy times and put a meeting whose UID follows from the lead.

The UID is derived from the lead's external id, so the same lead always names the same event: a retry
after a crash finds (or overwrites) its own meeting instead of booking a second one.
"""

from __future__ import annotations

import uuid
from datetime import time, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

# A fixed namespace: changing it would give every lead a new meeting UID and defeat retries.
_MEETING_NAMESPACE = uuid.UUID("6b0c8f0e-4a8e-5c57-9d7e-1e5c2a0d6a11")


def meeting_uid(lead_external_id: str) -> str:
    return f"{uuid.uuid5(_MEETING_NAMESPACE, lead_external_id)}@leadops"


class CalendarError(Exception):
    """The calendar could not answer or store."""


class CalendarTransientError(CalendarError):
    """Worth trying again later (server down, timeout, 5xx)."""


class CalendarPermanentError(CalendarError):
    """Trying again gives the same failure (unknown owner calendar, refused credentials, 4xx)."""


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> Interval:
        if self.end <= self.start:
            raise ValueError("an interval ends after it starts")
        return self

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


class WorkingHours(BaseModel):
    """When an owner takes meetings, in their own time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: str = "UTC"
    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = Field(default=frozenset({0, 1, 2, 3, 4}), description="Monday is 0.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @model_validator(mode="after")
    def _day_is_not_empty(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError("working hours end after they start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class MeetingRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_external_id: str = Field(min_length=1)
    owner: str = Field(min_length=1, description="The owner whose calendar gets the meeting.")
    title: str = Field(min_length=1)
    description: str = ""
    attendee_email: EmailStr | None = None
    length: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))

    @property
    def uid(self) -> str:
        return meeting_uid(self.lead_external_id)


class BookedMeeting(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    uid: str
    owner: str
    start: AwareDatetime
    end: AwareDatetime
    already_booked: bool = False


@runtime_checkable
class Calendar(Protocol):
    def busy(self, owner: str, window: Interval) -> list[Interval]: ...

    def find_meeting(self, owner: str, uid: str) -> BookedMeeting | None: ...

    def put_meeting(self, request: MeetingRequest, slot: Interval) -> BookedMeeting: ...
