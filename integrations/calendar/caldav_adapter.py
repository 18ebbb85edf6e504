"""Calendar adapter over CalDAV (caldav 3.6), tested against Radicale.

Busy times come from a free-busy-query REPORT on the owner's calendar: only busy periods cross the wire,
never the titles of an owner's other meetings. A meeting is stored at `<calendar>/<uid>.ics` with that
UID, so booking again (a retry, or two workers racing) writes the same resource and one event remains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import caldav
import icalendar
from caldav.lib import error as caldav_error

from integrations.calendar.port import (
    BookedMeeting,
    CalendarPermanentError,
    CalendarTransientError,
    Interval,
    MeetingRequest,
)

T = TypeVar("T")


def _aware(value: datetime | date) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def busy_from_freebusy(ical_text: str) -> list[Interval]:
    """The busy periods of a VFREEBUSY answer (FREE periods are dropped)."""
    intervals: list[Interval] = []
    for component in icalendar.Calendar.from_ical(ical_text).walk("VFREEBUSY"):
        values = component.get("FREEBUSY", [])
        for prop in values if isinstance(values, list) else [values]:
            if str(prop.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            for start, end_or_length in prop.dt if isinstance(prop.dt, list) else [prop.dt]:
                start = _aware(start)
                end = (
                    start + end_or_length
                    if not isinstance(end_or_length, datetime)
                    else _aware(end_or_length)
                )
                intervals.append(Interval(start=start, end=end))
    return sorted(intervals, key=lambda interval: interval.start)


def meeting_ical(request: MeetingRequest, slot: Interval, *, stamp: datetime) -> str:
    event = icalendar.Event()
    event.add("uid", request.uid)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", slot.start.astimezone(UTC))
    event.add("dtend", slot.end.astimezone(UTC))
    event.add("summary", request.title)
    if request.description:
        event.add("description", request.description)
    if request.attendee_email:
        event.add("attendee", f"mailto:{request.attendee_email}", parameters={"ROLE": "REQ-PARTICIPANT"})
    event.add("x-leadops-lead", request.lead_external_id)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//LeadOps//meeting booking//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical().decode()


class CalDavCalendar:
    def __init__(
        self,
        url: str,
        *,
        username: str | None,
        password: str | None,
        calendar_urls: Mapping[str, str],
        timeout_seconds: int = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`calendar_urls` maps an owner (as routing names them) to the URL of the calendar to book in."""
        self._client = caldav.DAVClient(
            url=url, username=username, password=password, timeout=timeout_seconds
        )
        self._calendar_urls = dict(calendar_urls)
        self._clock = clock

    def busy(self, owner: str, window: Interval) -> list[Interval]:
        calendar = self._calendar(owner)
        answer = self._call(lambda: calendar.freebusy_request(window.start, window.end))
        return [interval for interval in busy_from_freebusy(answer.data) if interval.overlaps(window)]

    def find_meeting(self, owner: str, uid: str) -> BookedMeeting | None:
        calendar = self._calendar(owner)
        try:
            found = self._call(lambda: calendar.get_event_by_uid(uid))
        except CalendarPermanentError as failure:
            if isinstance(failure.__cause__, caldav_error.NotFoundError):
                return None
            raise
        event = icalendar.Calendar.from_ical(found.data).walk("VEVENT")[0]
        return BookedMeeting(
            uid=uid,
            owner=owner,
            start=_aware(event.decoded("dtstart")),
            end=_aware(event.decoded("dtend")),
            already_booked=True,
        )

    def put_meeting(self, request: MeetingRequest, slot: Interval) -> BookedMeeting:
        calendar = self._calendar(request.owner)
        ical = meeting_ical(request, slot, stamp=self._clock())
        self._call(lambda: calendar.add_event(ical))
        return BookedMeeting(uid=request.uid, owner=request.owner, start=slot.start, end=slot.end)

    def events_with_uid(self, owner: str, uid: str) -> int:
        """How many events in the owner's calendar carry this UID (for checks and tests)."""
        events = self._call(lambda: self._calendar(owner).events())
        return sum(1 for event in events if str(event.icalendar_component.get("uid")) == uid)

    def _calendar(self, owner: str) -> Any:
        url = self._calendar_urls.get(owner)
        if url is None:
            raise CalendarPermanentError(f"no calendar configured for owner {owner!r}")
        return self._client.calendar(url=url)

    @staticmethod
    def _call(request: Callable[[], T]) -> T:
        try:
            return request()
        except caldav_error.AuthorizationError as failure:
            raise CalendarPermanentError(f"caldav refused the credentials: {failure}") from failure
        except caldav_error.DAVError as failure:
            text = str(failure)
            if any(f" {status}" in text for status in ("500", "502", "503", "504")):
                raise CalendarTransientError(f"caldav server error: {text}") from failure
            raise CalendarPermanentError(f"caldav request failed: {text}") from failure
        except OSError as failure:
            raise CalendarTransientError(f"caldav server unreachable: {failure}") from failure
