"""Business-time maths against hand-computed cases, and its laws as properties."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascolto.inbox.business_hours import (
    InvalidCalendar,
    add_business_minutes,
    add_business_time,
    business_minutes_between,
    business_time_between,
    calendar_for,
    parse_calendar,
)
from ascolto.inbox.models import BusinessHours

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")
SPLIT_DAY = [["09:00", "13:00"], ["14:00", "18:00"]]
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")


def rome_office(*holidays: str):
    return parse_calendar(
        timezone="Europe/Rome",
        schedule={day: SPLIT_DAY for day in WORKDAYS},
        holidays=["2026-12-25", *holidays],
    )


def rome(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ROME)


def local(moment: dt.datetime, zone: ZoneInfo = ROME) -> dt.datetime:
    return moment.astimezone(zone)


# --- Hand-computed cases ------------------------------------------------------------------------


def test_friday_evening_message_is_due_monday_morning():
    due = add_business_minutes(rome(2026, 12, 18, 17, 30), 60, rome_office())
    assert local(due) == rome(2026, 12, 21, 9, 30)


def test_a_monday_holiday_moves_the_due_time_to_tuesday():
    # Easter Monday 2026 is April 6th; the Friday before is in summer time already.
    due = add_business_minutes(rome(2026, 4, 3, 17, 30), 60, rome_office("2026-04-06"))
    assert local(due) == rome(2026, 4, 7, 9, 30)


def test_christmas_is_skipped():
    office = rome_office()
    due = add_business_minutes(rome(2026, 12, 24, 17, 30), 60, office)
    assert local(due) == rome(2026, 12, 28, 9, 30)
    assert (
        business_minutes_between(rome(2026, 12, 24, 17, 30), rome(2026, 12, 28, 9, 30), office)
        == 60
    )


def test_the_lunch_break_does_not_count():
    office = rome_office()
    assert local(add_business_minutes(rome(2026, 12, 14, 12, 30), 60, office)) == rome(
        2026, 12, 14, 14, 30
    )
    assert (
        business_minutes_between(rome(2026, 12, 14, 8, 0), rome(2026, 12, 14, 20, 0), office) == 480
    )


def test_a_target_ending_at_closing_time_is_due_at_closing_time():
    due = add_business_minutes(rome(2026, 12, 18, 17, 30), 30, rome_office())
    assert local(due) == rome(2026, 12, 18, 18, 0)


def test_a_message_outside_hours_starts_the_clock_at_opening():
    due = add_business_minutes(rome(2026, 12, 19, 11, 0), 45, rome_office())  # a Saturday
    assert local(due) == rome(2026, 12, 21, 9, 45)


def test_spring_forward_keeps_the_office_on_wall_clock_time():
    # Clocks go forward on Sunday 2026-03-29: Friday is UTC+1, Monday UTC+2.
    friday = rome(2026, 3, 27, 17, 0)
    due = add_business_minutes(friday, 120, rome_office())
    assert local(due) == rome(2026, 3, 30, 10, 0)
    assert due == dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC)
    assert business_minutes_between(friday, due, rome_office()) == 120


def test_fall_back_keeps_the_office_on_wall_clock_time():
    # Clocks go back on Sunday 2026-10-25: Friday is UTC+2, Monday UTC+1.
    due = add_business_minutes(rome(2026, 10, 23, 17, 0), 120, rome_office())
    assert local(due) == rome(2026, 10, 26, 10, 0)
    assert due == dt.datetime(2026, 10, 26, 9, 0, tzinfo=dt.UTC)


def test_round_the_clock_days_have_23_and_25_hours_on_dst_sundays():
    always = parse_calendar(
        timezone="Europe/Rome", schedule={d: [["00:00", "24:00"]] for d in ("sat", "sun")}
    )
    assert (
        business_minutes_between(rome(2026, 3, 28, 12), rome(2026, 3, 29, 12), always)
        == 12 * 60 + 11 * 60
    )
    assert business_minutes_between(rome(2026, 3, 29, 0), rome(2026, 3, 30, 0), always) == 23 * 60
    assert business_minutes_between(rome(2026, 10, 25, 0), rome(2026, 10, 26, 0), always) == 25 * 60


def test_hours_inside_the_skipped_hour_start_when_the_clocks_jump():
    early = parse_calendar(timezone="Europe/Rome", schedule={"sun": [["02:30", "04:00"]]})
    sunday = rome(2026, 3, 29, 0, 0)
    assert business_minutes_between(sunday, rome(2026, 3, 30), early) == 60  # 03:00-04:00 CEST
    opening = add_business_minutes(sunday, 1, early)
    assert opening == dt.datetime(2026, 3, 29, 1, 1, tzinfo=dt.UTC)


def test_intervals_past_midnight_and_other_time_zones():
    night = parse_calendar(timezone="America/New_York", schedule={"mon": [["22:00", "06:00"]]})
    monday_late = dt.datetime(2026, 6, 1, 23, 0, tzinfo=NEW_YORK)
    assert local(add_business_minutes(monday_late, 120, night), NEW_YORK) == dt.datetime(
        2026, 6, 2, 1, 0, tzinfo=NEW_YORK
    )
    assert (
        business_minutes_between(
            dt.datetime(2026, 6, 1, tzinfo=NEW_YORK),
            dt.datetime(2026, 6, 3, tzinfo=NEW_YORK),
            night,
        )
        == 480
    )


def test_overlapping_intervals_count_once():
    doubled = parse_calendar(
        timezone="UTC",
        schedule={"mon": [["09:00", "12:00"], ["10:00", "11:00"], ["11:30", "13:00"]]},
    )
    monday = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    assert business_minutes_between(monday, monday + dt.timedelta(days=1), doubled) == 240


def test_no_calendar_is_round_the_clock():
    start = rome(2026, 3, 28, 12)
    # 24 real hours across the spring-forward night: 13:00 on the wall clock.
    assert local(add_business_minutes(start, 24 * 60, None)) == rome(2026, 3, 29, 13)
    assert business_minutes_between(start, start + dt.timedelta(hours=5), None) == 300


def test_time_between_is_never_negative_and_adding_zero_stays_put():
    office = rome_office()
    saturday = rome(2026, 12, 19, 11, 0)
    assert business_time_between(saturday, saturday - dt.timedelta(days=3), office) == dt.timedelta(
        0
    )
    assert add_business_time(saturday, dt.timedelta(0), office) == saturday


def test_naive_datetimes_and_negative_amounts_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(dt.datetime(2026, 1, 1), 5, rome_office())
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(rome(2026, 1, 1), -5, rome_office())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus", "schedule": {"mon": SPLIT_DAY}}, "time zone"),
        ({"timezone": "UTC", "schedule": {"mon": [["9am", "5pm"]]}}, "not a time"),
        ({"timezone": "UTC", "schedule": {"mon": [["09:00", "25:00"]]}}, "not a time of day"),
        ({"timezone": "UTC", "schedule": {"mon": [["09:00"]]}}, "pair"),
        ({"timezone": "UTC", "schedule": {"someday": SPLIT_DAY}}, "Unknown days"),
        ({"timezone": "UTC", "schedule": {"mon": []}}, "no open hours"),
        ({"timezone": "UTC", "schedule": {"mon": SPLIT_DAY}, "holidays": ["Christmas"]}, "Holiday"),
    ],
)
def test_invalid_calendars_say_what_is_wrong(kwargs, message):
    with pytest.raises(InvalidCalendar, match=message):
        parse_calendar(**kwargs)


def test_a_calendar_closed_for_more_than_a_year_is_an_error():
    every_day = [(dt.date(2026, 1, 1) + dt.timedelta(days=n)).isoformat() for n in range(500)]
    closed = parse_calendar(timezone="UTC", schedule={"mon": SPLIT_DAY}, holidays=every_day)
    with pytest.raises(InvalidCalendar, match="No business hours"):
        add_business_minutes(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 5, closed)


def test_calendar_for_compiles_a_stored_row():
    row = BusinessHours(
        name="Rome", timezone="Europe/Rome", schedule={"fri": SPLIT_DAY}, holidays=[]
    )
    assert add_business_minutes(rome(2026, 12, 18, 17, 30), 60, calendar_for(row)) == rome(
        2026, 12, 25, 9, 30
    )
    assert calendar_for(None) is None


# --- Laws ---------------------------------------------------------------------------------------

CALENDARS = {
    "rome office": rome_office("2026-04-06", "2026-08-15"),
    "new york": parse_calendar(
        timezone="America/New_York", schedule={d: [["08:30", "17:15"]] for d in WORKDAYS}
    ),
    "nights": parse_calendar(
        timezone="Asia/Jerusalem",
        schedule={"sun": [["22:00", "06:00"]], "thu": [["20:00", "20:00"]]},
    ),
    "weekends": parse_calendar(
        timezone="Europe/Rome", schedule={"sat": [["00:00", "24:00"]], "sun": [["01:30", "03:30"]]}
    ),
    "always": None,
}
instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),
    max_value=dt.datetime(2027, 12, 31),
    timezones=st.just(dt.UTC),
)
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
amounts = st.integers(min_value=0, max_value=60 * 24 * 20).map(
    lambda s: dt.timedelta(seconds=s * 7)
)
LAWS = settings(max_examples=150, deadline=None)


@LAWS
@given(calendars, instants, instants)
def test_time_between_is_never_negative(calendar, a, b):
    assert business_time_between(a, b, calendar) >= dt.timedelta(0)


@LAWS
@given(calendars, instants, instants, instants)
def test_time_between_is_additive(calendar, a, b, c):
    a, b, c = sorted((a, b, c))
    assert business_time_between(a, c, calendar) == business_time_between(
        a, b, calendar
    ) + business_time_between(b, c, calendar)


@LAWS
@given(calendars, instants, amounts)
def test_adding_then_measuring_gives_the_amount_back(calendar, start, amount):
    due = add_business_time(start, amount, calendar)
    assert due >= start
    assert business_time_between(start, due, calendar) == amount


@LAWS
@given(calendars, instants, instants)
def test_adding_the_time_between_lands_on_the_end_or_the_closing_before_it(calendar, a, b):
    start, end = sorted((a, b))
    landed = add_business_time(start, business_time_between(start, end, calendar), calendar)
    assert landed <= end
    assert business_time_between(landed, end, calendar) == dt.timedelta(0)


@LAWS
@given(calendars, instants, amounts, amounts)
def test_adding_is_monotonic_and_composes(calendar, start, x, y):
    assert add_business_time(start, min(x, y), calendar) <= add_business_time(
        start, max(x, y), calendar
    )
    via = add_business_time(add_business_time(start, x, calendar), y, calendar)
    assert business_time_between(start, via, calendar) == x + y
