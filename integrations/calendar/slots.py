"""Pure scheduling: the first free slot of a given length inside working hours, and booking once per lead."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from integrations.calendar.port import BookedMeeting, Calendar, Interval, MeetingRequest, WorkingHours

# Meetings start on the quarter hour: a 10:07 invitation looks machine-made and gets declined.
DEFAULT_STEP = timedelta(minutes=15)


def _round_up(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=moment.tzinfo)
    remainder = (moment - epoch) % step
    return moment if not remainder else moment + (step - remainder)


def first_free_slot(
    busy: Sequence[Interval],
    window: Interval,
    length: timedelta,
    hours: WorkingHours,
    *,
    step: timedelta = DEFAULT_STEP,
) -> Interval | None:
    """The earliest `length`-long slot in `window`, inside working hours, overlapping no busy interval."""
    zone = hours.zone
    day = window.start.astimezone(zone).date()
    last_day = window.end.astimezone(zone).date()
    while day <= last_day:
        if day.weekday() in hours.weekdays:
            day_start = max(datetime.combine(day, hours.start, zone), window.start.astimezone(zone))
            day_end = min(datetime.combine(day, hours.end, zone), window.end.astimezone(zone))
            candidate = _round_up(day_start, step)
            while candidate + length <= day_end:
                slot = Interval(start=candidate, end=candidate + length)
                clashes = [interval for interval in busy if interval.overlaps(slot)]
                if not clashes:
                    return slot
                candidate = _round_up(max(interval.end for interval in clashes).astimezone(zone), step)
        day += timedelta(days=1)
    return None


def book_first_free_slot(
    calendar: Calendar, request: MeetingRequest, window: Interval, hours: WorkingHours
) -> BookedMeeting | None:
    """Book the lead's meeting in the owner's first free slot, or answer the meeting it already has.

    The existing-meeting check comes first: after a crash the lead's own event makes its slot busy, and
    searching again would move the meeting to the next free slot instead of keeping it.
    """
    existing = calendar.find_meeting(request.owner, request.uid)
    if existing is not None:
        return existing
    slot = first_free_slot(calendar.busy(request.owner, window), window, request.length, hours)
    if slot is None:
        return None
    return calendar.put_meeting(request, slot)
