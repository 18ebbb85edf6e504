"""The pure slot search: working hours in the owner's zone, quarter-hour starts, never over a busy time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from integrations.calendar.fake import FakeCalendar
from integrations.calendar.port import Calendar, Interval, MeetingRequest, WorkingHours, meeting_uid
from integrations.calendar.slots import book_first_free_slot, first_free_slot

HOURS = WorkingHours(time_zone="UTC", start=time(9), end=time(17))
MONDAY = datetime(2025, 3, 10, tzinfo=UTC)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def span(start: datetime, end: datetime) -> Interval:
    return Interval(start=start, end=end)


def test_an_empty_day_books_at_the_start_of_working_hours() -> None:
    slot = first_free_slot([], span(MONDAY, MONDAY + timedelta(days=1)), timedelta(minutes=30), HOURS)

    assert slot == span(at(MONDAY, 9), at(MONDAY, 9, 30))


def test_the_slot_skips_busy_times_and_starts_on_a_quarter_hour() -> None:
    busy = [span(at(MONDAY, 9), at(MONDAY, 10, 5)), span(at(MONDAY, 10, 30), at(MONDAY, 11))]

    slot = first_free_slot(busy, span(MONDAY, MONDAY + timedelta(days=1)), timedelta(minutes=30), HOURS)

    assert slot == span(at(MONDAY, 11), at(MONDAY, 11, 30))


def test_a_gap_shorter_than_the_meeting_is_skipped() -> None:
    busy = [span(at(MONDAY, 9), at(MONDAY, 9, 45)), span(at(MONDAY, 10), at(MONDAY, 12))]

    slot = first_free_slot(busy, span(MONDAY, MONDAY + timedelta(days=1)), timedelta(minutes=30), HOURS)

    assert slot == span(at(MONDAY, 12), at(MONDAY, 12, 30))


def test_a_full_friday_moves_to_monday_past_the_weekend() -> None:
    friday = datetime(2025, 3, 14, tzinfo=UTC)
    busy = [span(at(friday, 9), at(friday, 17))]

    slot = first_free_slot(busy, span(friday, friday + timedelta(days=4)), timedelta(hours=1), HOURS)

    assert slot == span(datetime(2025, 3, 17, 9, tzinfo=UTC), datetime(2025, 3, 17, 10, tzinfo=UTC))


def test_working_hours_are_the_owners_local_hours() -> None:
    berlin = WorkingHours(time_zone="Europe/Berlin", start=time(9), end=time(17))

    slot = first_free_slot([], span(MONDAY, MONDAY + timedelta(days=1)), timedelta(minutes=30), berlin)

    assert slot is not None and slot.start == datetime(2025, 3, 10, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert slot.start.astimezone(UTC).hour == 8


def test_the_window_start_is_respected_mid_day() -> None:
    window = span(at(MONDAY, 13, 7), MONDAY + timedelta(days=1))

    slot = first_free_slot([], window, timedelta(minutes=30), HOURS)

    assert slot == span(at(MONDAY, 13, 15), at(MONDAY, 13, 45))


def test_no_slot_when_the_window_is_all_busy() -> None:
    busy = [span(at(MONDAY, 8), at(MONDAY, 18))]

    assert (
        first_free_slot(busy, span(MONDAY, MONDAY + timedelta(days=1)), timedelta(minutes=30), HOURS) is None
    )


def test_a_slot_never_overlaps_a_busy_interval_across_many_layouts() -> None:
    window = span(MONDAY, MONDAY + timedelta(days=5))
    for offset in range(0, 8 * 60, 20):
        busy = [
            span(at(MONDAY, 9) + timedelta(minutes=offset), at(MONDAY, 9) + timedelta(minutes=offset + 50))
        ]
        slot = first_free_slot(busy, window, timedelta(minutes=45), HOURS)
        assert slot is not None and not any(slot.overlaps(interval) for interval in busy)
        assert time(9) <= slot.start.time() and slot.end.time() <= time(17)


def test_the_meeting_uid_follows_the_lead() -> None:
    assert meeting_uid("crm-1") == meeting_uid("crm-1") != meeting_uid("crm-2")


def test_the_fake_calendar_books_once_per_lead_like_caldav() -> None:
    calendar = FakeCalendar(busy={"ana": [span(at(MONDAY, 9), at(MONDAY, 10))]})
    request = MeetingRequest(lead_external_id="crm-1", owner="ana", title="Intro")
    window = span(MONDAY, MONDAY + timedelta(days=1))

    first = book_first_free_slot(calendar, request, window, HOURS)
    again = book_first_free_slot(calendar, request, window, HOURS)

    assert isinstance(calendar, Calendar)
    assert first is not None and first.start == at(MONDAY, 10)
    assert again is not None and again.already_booked and len(calendar.meetings) == 1
