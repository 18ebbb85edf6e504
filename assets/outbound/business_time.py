"""Business time: a team's working hours in its own time zone, minus its holidays, and SLA deadlines in it.

A 30-minute SLA on a lead that arrives at 16:50 on a Friday in Berlin is due at 09:20 on Monday there,
not at 17:20 on Friday. The hours and holidays are the policy seeds `business_hours` and
`business_holidays` (dbt_project/policies/<policy>/); a team missing from them gets the default below.
Pure functions: the SLA sensor, the SLA enforcement and the notifications share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Ten years of days: a calendar with no working day at all fails loudly instead of looping forever.
_MAX_DAYS = 3660
ALL_TEAMS = "*"


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str = "UTC"
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    day_start: time = time(9, 0)
    day_end: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    reroute_on_breach: bool = False
    reroute_after_minutes: int = 60

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # an unknown zone fails here, naming itself
        if self.day_end <= self.day_start:
            raise ValueError(f"business day ends ({self.day_end}) before it starts ({self.day_start})")
        if not self.weekdays:
            raise ValueError("business hours need at least one working weekday")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.holidays


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is UTC already (the warehouse stores naive UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day_bounds(hours: BusinessHours, day: date) -> tuple[datetime, datetime]:
    zone = hours.zone
    return (
        datetime.combine(day, hours.day_start, zone).astimezone(UTC),
        datetime.combine(day, hours.day_end, zone).astimezone(UTC),
    )


def business_deadline(start: datetime, minutes: float, hours: BusinessHours) -> datetime:
    """The moment `minutes` of business time after `start` have passed (aware UTC).

    Time outside working hours, on non-working weekdays and on holidays does not count; a lead that
    arrives at night starts its clock when the next business day opens.
    """
    if minutes < 0:
        raise ValueError(f"an SLA of {minutes} minutes is negative")
    moment = as_utc(start)
    remaining = timedelta(minutes=minutes)
    day = moment.astimezone(hours.zone).date()
    for _ in range(_MAX_DAYS):
        if hours.is_business_day(day):
            opens, closes = _day_bounds(hours, day)
            begin = max(opens, moment)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"no business time within {_MAX_DAYS} days of {start} in {hours.time_zone}")


def holiday_intervals(
    hours: BusinessHours, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The team's holidays between `start` and `end`, as whole local days (aware UTC bounds)."""
    zone = hours.zone
    first, last = as_utc(start).astimezone(zone).date(), as_utc(end).astimezone(zone).date()
    return [
        (
            datetime.combine(day, time(0), zone).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC),
        )
        for day in sorted(hours.holidays)
        if first <= day <= last
    ]


def _weekdays(text: str) -> frozenset[int]:
    names = [part.strip().lower()[:3] for part in str(text).split(";") if part.strip()]
    unknown = [name for name in names if name not in WEEKDAY_NAMES]
    if unknown:
        raise ValueError(f"unknown weekday(s) {unknown} in {text!r}: use {';'.join(WEEKDAY_NAMES)}")
    return frozenset(WEEKDAY_NAMES.index(name) for name in names)


def _clock(text: Any) -> time:
    return text if isinstance(text, time) else time.fromisoformat(str(text).strip())


def business_hours_by_team(
    hours_rows: Iterable[Mapping[str, Any]], holiday_rows: Iterable[Mapping[str, Any]]
) -> dict[str, BusinessHours]:
    """The seeds' rows as one BusinessHours per team; holidays of team '*' apply to every team."""
    holidays: dict[str, set[date]] = {}
    for row in holiday_rows:
        value = row["holiday_date"]
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if isinstance(day, datetime):
            day = day.date()
        holidays.setdefault(str(row["team"]), set()).add(day)
    common = holidays.get(ALL_TEAMS, set())
    teams: dict[str, BusinessHours] = {}
    for row in hours_rows:
        team = str(row["team"])
        teams[team] = BusinessHours(
            time_zone=str(row["time_zone"]),
            weekdays=_weekdays(row["weekdays"]),
            day_start=_clock(row["day_start"]),
            day_end=_clock(row["day_end"]),
            holidays=frozenset(common | holidays.get(team, set())),
            reroute_on_breach=bool(row["reroute_on_breach"]),
            reroute_after_minutes=int(row["reroute_after_minutes"]),
        )
    teams.setdefault(ALL_TEAMS, BusinessHours(holidays=frozenset(common)))
    return teams


def hours_for(teams: Mapping[str, BusinessHours], team: str | None) -> BusinessHours:
    return teams.get(str(team)) or teams.get(ALL_TEAMS) or BusinessHours()
