"""Business-time arithmetic for SLA targets: pure functions, no database.

A calendar is a weekly schedule of local intervals in an IANA time zone, minus whole-day
holidays. Two operations, exact to the microsecond:

- `add_business_time(start, amount, calendar)`: the instant at which `amount` of business time
  has elapsed since `start`.
- `business_time_between(start, end, calendar)`: how much business time lies in [start, end);
  never negative.

A `None` calendar is 24/7: business time is calendar time.

Conventions (each one a choice a reader would otherwise have to guess):
- Local times are wall-clock times on each date, so "09:00" is 09:00 in winter and in summer.
  A local time that does not exist (the hour skipped when clocks go forward) is the instant the
  clocks jump; a local time that happens twice (clocks go back) is its first occurrence.
- "24:00" ends an interval at the next midnight; an interval whose end is not after its start
  ("22:00"-"02:00") runs past midnight into the next day. Overlapping intervals count once.
- A holiday closes the intervals that *start* on that local date.
- Adding an amount that ends exactly where an interval closes returns that closing instant, not
  the next opening: 30 business minutes from Friday 17:30 in a 09:00-18:00 calendar are due at
  Friday 18:00.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from ascolto.inbox.models import BusinessHours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = dt.UTC
ZERO = dt.timedelta(0)
# Longest run of closed days we walk through before calling a calendar broken: a year of
# holidays in a row is a configuration mistake, not a schedule.
MAX_CLOSED_DAYS = 400
_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
_DAY = dt.timedelta(days=1)


class InvalidCalendar(ValueError):
    """The schedule, holidays or time zone cannot describe business hours."""


@dataclass(frozen=True)
class Calendar:
    """A compiled business-hours calendar. Build it with `parse_calendar` or `calendar_for`.

    `weekly[weekday]` holds (start, end) offsets from local midnight in minutes, Monday = 0;
    an end of at most the start has already been moved to the next day (end > 1440).
    """

    zone: ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date]

    def intervals_from(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Business intervals in UTC, in order and not overlapping, from the one containing
        `moment` (or the next one) onwards. Endless; raises InvalidCalendar after
        MAX_CLOSED_DAYS days in a row without business hours."""
        day = moment.astimezone(self.zone).date() - _DAY  # yesterday's may run past midnight
        last_end = moment
        closed_days = 0
        while True:
            produced = False
            for opens, end in _day_intervals(self, day):
                start = max(opens, last_end)
                if end <= start:
                    continue
                produced = True
                last_end = end
                yield start, end
            closed_days = 0 if produced else closed_days + 1
            if closed_days > MAX_CLOSED_DAYS:
                raise InvalidCalendar(
                    f"No business hours in {MAX_CLOSED_DAYS} days up to {day.isoformat()}."
                )
            day += _DAY


@functools.lru_cache(maxsize=65536)
def _day_intervals(calendar: Calendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The UTC intervals that start on a local date (none on a holiday)."""
    if day in calendar.holidays:
        return ()
    return tuple(
        (_local_to_utc(day, start, calendar.zone), _local_to_utc(day, end, calendar.zone))
        for start, end in calendar.weekly[day.weekday()]
    )


def _local_to_utc(day: dt.date, minutes: int, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock time `minutes` after midnight of `day`."""
    day = day + dt.timedelta(days=minutes // 1440)
    minutes %= 1440
    naive = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
    return _wall_to_utc(naive, zone)


def _wall_to_utc(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In the gap of a forward jump: fold=1 gives an instant before the jump and fold=0 one
    # after it. The jump itself is the first instant whose wall clock reads at least `naive`.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    while high - low > dt.timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0) if high.microsecond else high


def _parse_hhmm(value: object, where: str) -> int:
    match = _HHMM.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise InvalidCalendar(f"{where}: {value!r} is not a time like 09:30.")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidCalendar(f"{where}: {value!r} is not a time of day.")
    return hours * 60 + minutes


def parse_calendar(
    *, timezone: str, schedule: Mapping[str, Any], holidays: Sequence[Any] = ()
) -> Calendar:
    """Compile a schedule like {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], ...} (missing
    days are closed), holidays like ["2026-12-25"], and an IANA zone. Raises InvalidCalendar
    with a message naming the bad part; a calendar with no open interval at all is invalid."""
    try:
        zone = ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCalendar(f"Unknown time zone {timezone!r}.") from None
    if not isinstance(schedule, Mapping):
        raise InvalidCalendar("The weekly schedule must map days (mon..sun) to intervals.")
    unknown = set(schedule) - set(WEEKDAYS)
    if unknown:
        raise InvalidCalendar(f"Unknown days in the schedule: {', '.join(sorted(unknown))}.")
    weekly: list[tuple[tuple[int, int], ...]] = []
    for name in WEEKDAYS:
        intervals = schedule.get(name) or []
        if not isinstance(intervals, Sequence) or isinstance(intervals, str):
            raise InvalidCalendar(f"{name}: a list of [start, end] pairs.")
        day: list[tuple[int, int]] = []
        for pair in intervals:
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise InvalidCalendar(f"{name}: {pair!r} is not a [start, end] pair.")
            start, end = _parse_hhmm(pair[0], name), _parse_hhmm(pair[1], name)
            if start >= 1440:
                raise InvalidCalendar(f"{name}: an interval cannot start at 24:00.")
            if end <= start:
                end += 1440
            day.append((start, end))
        weekly.append(tuple(sorted(day)))
    if not any(weekly):
        raise InvalidCalendar("The weekly schedule has no open hours.")
    days: set[dt.date] = set()
    for value in holidays or ():
        try:
            days.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidCalendar(f"Holiday {value!r} is not a date like 2026-12-25.") from None
    return Calendar(zone=zone, weekly=tuple(weekly), holidays=frozenset(days))


@functools.lru_cache(maxsize=256)
def _cached_calendar(timezone: str, schedule: str, holidays: str) -> Calendar:
    return parse_calendar(
        timezone=timezone, schedule=json.loads(schedule), holidays=json.loads(holidays)
    )


def calendar_for(business_hours: BusinessHours | None) -> Calendar | None:
    """The compiled calendar of a BusinessHours row (cached by content), or None for 24/7.
    Raises InvalidCalendar for a row that cannot be compiled."""
    if business_hours is None:
        return None
    return _cached_calendar(
        business_hours.timezone,
        json.dumps(business_hours.schedule, sort_keys=True),
        json.dumps(business_hours.holidays, sort_keys=True),
    )


def _require_aware(*moments: dt.datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("Business-time maths needs timezone-aware datetimes.")


def add_business_time(
    start: dt.datetime, amount: dt.timedelta, calendar: Calendar | None
) -> dt.datetime:
    """The instant at which `amount` (>= 0) of business time has elapsed since `start`, in UTC.
    Zero returns `start` itself, open or not."""
    _require_aware(start)
    if amount < ZERO:
        raise ValueError("Business time to add cannot be negative.")
    start = start.astimezone(UTC)
    if calendar is None or amount == ZERO:
        return start + amount
    remaining = amount
    for opens, closes in calendar.intervals_from(start):
        begin = max(opens, start)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("intervals_from never ends")  # pragma: no cover


def business_time_between(
    start: dt.datetime, end: dt.datetime, calendar: Calendar | None
) -> dt.timedelta:
    """Business time in [start, end); zero when end is not after start."""
    _require_aware(start, end)
    if end <= start:
        return ZERO
    if calendar is None:
        return end - start
    total = ZERO
    for opens, closes in calendar.intervals_from(start):
        if opens >= end:
            break
        total += min(closes, end) - max(opens, start)
    return total


def add_business_minutes(
    start: dt.datetime, minutes: int | float, calendar: Calendar | None
) -> dt.datetime:
    return add_business_time(start, dt.timedelta(minutes=minutes), calendar)


def business_minutes_between(
    start: dt.datetime, end: dt.datetime, calendar: Calendar | None
) -> float:
    return business_time_between(start, end, calendar) / dt.timedelta(minutes=1)
