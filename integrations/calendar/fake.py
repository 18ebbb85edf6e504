"""An in-memory calendar with CalDAV's UID semantics: putting a UID again replaces the one event."""

from __future__ import annotations

from integrations.calendar.port import BookedMeeting, Interval, MeetingRequest


class FakeCalendar:
    def __init__(self, busy: dict[str, list[Interval]] | None = None) -> None:
        self.busy_by_owner: dict[str, list[Interval]] = {owner: list(v) for owner, v in (busy or {}).items()}
        self.meetings: dict[tuple[str, str], BookedMeeting] = {}

    def busy(self, owner: str, window: Interval) -> list[Interval]:
        booked = [Interval(start=m.start, end=m.end) for (o, _), m in self.meetings.items() if o == owner]
        everything = self.busy_by_owner.get(owner, []) + booked
        return sorted((i for i in everything if i.overlaps(window)), key=lambda i: i.start)

    def find_meeting(self, owner: str, uid: str) -> BookedMeeting | None:
        found = self.meetings.get((owner, uid))
        return found.model_copy(update={"already_booked": True}) if found else None

    def put_meeting(self, request: MeetingRequest, slot: Interval) -> BookedMeeting:
        booked = BookedMeeting(uid=request.uid, owner=request.owner, start=slot.start, end=slot.end)
        self.meetings[(request.owner, request.uid)] = booked
        return booked
