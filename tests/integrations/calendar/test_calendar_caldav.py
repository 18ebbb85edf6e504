"""The CalDAV adapter against a real Radicale: busy times read back, auto-booking lands in a free slot and
never on a busy one, and booking twice for the same lead keeps one event."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from integrations.calendar.caldav_adapter import CalDavCalendar
from integrations.calendar.port import (
    Calendar,
    CalendarPermanentError,
    Interval,
    MeetingRequest,
    WorkingHours,
)
from integrations.calendar.slots import book_first_free_slot
from tests.integrations.calendar.radicale_server import PASSWORD, USERNAME, RadicaleServer

MONDAY = datetime(2025, 3, 10, tzinfo=UTC)
WINDOW = Interval(start=MONDAY, end=MONDAY + timedelta(days=2))
HOURS = WorkingHours(time_zone="UTC", start=time(9), end=time(17))


def add_busy(radicale: RadicaleServer, calendar_url: str, uid: str, start: datetime, end: datetime) -> None:
    radicale.client().calendar(url=calendar_url).add_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20250301T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Private: board meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def adapter(radicale: RadicaleServer, owner: str, url: str) -> CalDavCalendar:
    return CalDavCalendar(radicale.url, username=USERNAME, password=PASSWORD, calendar_urls={owner: url})


@pytest.fixture
def busy_morning(radicale: RadicaleServer, owner_calendar: tuple[str, str]) -> tuple[str, str]:
    """The owner is busy Monday 09:00–10:30 and 10:45–12:00 UTC."""
    owner, url = owner_calendar
    add_busy(radicale, url, "busy-1", MONDAY.replace(hour=9), MONDAY.replace(hour=10, minute=30))
    add_busy(radicale, url, "busy-2", MONDAY.replace(hour=10, minute=45), MONDAY.replace(hour=12))
    return owner, url


def request_for(owner: str, lead: str = "crm-lead-0042") -> MeetingRequest:
    return MeetingRequest(
        lead_external_id=lead,
        owner=owner,
        title="Intro call: Northwind Payments",
        attendee_email="maya@northwind.example",
        length=timedelta(minutes=30),
    )


def test_adapter_satisfies_the_calendar_port(
    radicale: RadicaleServer, owner_calendar: tuple[str, str]
) -> None:
    assert isinstance(adapter(radicale, *owner_calendar), Calendar)


def test_free_busy_reads_the_owners_busy_events(
    radicale: RadicaleServer, busy_morning: tuple[str, str]
) -> None:
    owner, url = busy_morning

    busy = adapter(radicale, owner, url).busy(owner, WINDOW)

    assert [(i.start.astimezone(UTC).time(), i.end.astimezone(UTC).time()) for i in busy] == [
        (time(9), time(10, 30)),
        (time(10, 45), time(12)),
    ]


def test_an_allowed_auto_book_lands_in_a_free_slot_never_on_a_busy_one(
    radicale: RadicaleServer, busy_morning: tuple[str, str]
) -> None:
    owner, url = busy_morning
    calendar = adapter(radicale, owner, url)
    busy_before = calendar.busy(owner, WINDOW)

    booked = book_first_free_slot(calendar, request_for(owner), WINDOW, HOURS)

    assert booked is not None and not booked.already_booked
    slot = Interval(start=booked.start, end=booked.end)
    assert slot.start == MONDAY.replace(hour=12)
    assert not any(slot.overlaps(interval) for interval in busy_before)
    stored = radicale.client().calendar(url=url).get_event_by_uid(booked.uid).icalendar_component
    assert stored["dtstart"].dt == MONDAY.replace(hour=12)
    assert "maya@northwind.example" in str(stored["attendee"])


def test_booking_twice_with_the_same_key_keeps_one_event(
    radicale: RadicaleServer, busy_morning: tuple[str, str]
) -> None:
    owner, url = busy_morning
    first = book_first_free_slot(adapter(radicale, owner, url), request_for(owner), WINDOW, HOURS)
    # A new adapter, as after a crash: the lead's own meeting now makes its slot busy.
    again = book_first_free_slot(adapter(radicale, owner, url), request_for(owner), WINDOW, HOURS)

    assert first is not None and again is not None
    assert again.already_booked and (again.uid, again.start) == (first.uid, first.start)
    assert adapter(radicale, owner, url).events_with_uid(owner, first.uid) == 1


def test_putting_the_same_uid_again_updates_the_one_event(
    radicale: RadicaleServer, owner_calendar: tuple[str, str]
) -> None:
    owner, url = owner_calendar
    calendar = adapter(radicale, owner, url)
    request = request_for(owner)
    calendar.put_meeting(
        request, Interval(start=MONDAY.replace(hour=9), end=MONDAY.replace(hour=9, minute=30))
    )
    calendar.put_meeting(
        request, Interval(start=MONDAY.replace(hour=14), end=MONDAY.replace(hour=14, minute=30))
    )

    assert calendar.events_with_uid(owner, request.uid) == 1
    assert len(radicale.client().calendar(url=url).events()) == 1
    assert calendar.find_meeting(owner, request.uid).start == MONDAY.replace(hour=14)


def test_two_leads_get_two_meetings(radicale: RadicaleServer, owner_calendar: tuple[str, str]) -> None:
    owner, url = owner_calendar
    calendar = adapter(radicale, owner, url)

    first = book_first_free_slot(calendar, request_for(owner, "crm-1"), WINDOW, HOURS)
    second = book_first_free_slot(calendar, request_for(owner, "crm-2"), WINDOW, HOURS)

    assert first is not None and second is not None
    assert (first.start.hour, second.start.hour, second.start.minute) == (9, 9, 30)


def test_no_slot_means_no_booking(radicale: RadicaleServer, owner_calendar: tuple[str, str]) -> None:
    owner, url = owner_calendar
    add_busy(radicale, url, "all-day", MONDAY.replace(hour=8), MONDAY.replace(hour=18))
    calendar = adapter(radicale, owner, url)
    monday_only = Interval(start=MONDAY, end=MONDAY + timedelta(days=1))

    assert book_first_free_slot(calendar, request_for(owner), monday_only, HOURS) is None
    assert len(radicale.client().calendar(url=url).events()) == 1


def test_an_owner_without_a_calendar_is_a_permanent_error(radicale: RadicaleServer) -> None:
    calendar = CalDavCalendar(radicale.url, username=USERNAME, password=PASSWORD, calendar_urls={})

    with pytest.raises(CalendarPermanentError, match="no calendar configured"):
        calendar.busy("nobody", WINDOW)


def test_wrong_credentials_are_a_permanent_error(
    radicale: RadicaleServer, owner_calendar: tuple[str, str]
) -> None:
    owner, url = owner_calendar
    calendar = CalDavCalendar(radicale.url, username=USERNAME, password="wrong", calendar_urls={owner: url})

    with pytest.raises(CalendarPermanentError):
        calendar.busy(owner, WINDOW)
