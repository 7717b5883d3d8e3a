"""The settings of rules that Ascolto triggers itself, checked when a rule is saved, and the
periods of schedule rules.

schedule: {"every": "day", "at": "09:30"} or {"every": "week", "weekday": "monday", "at": ...},
    in the workspace's time zone.
date:     {"attribute": "birthday" | "<custom date attribute>", "offset_days": -7,
    "yearly": true, "at": "09:00"}: fires on the day `offset_days` after the date (negative:
    before), in the customer's time zone, from `at` on; `yearly` repeats it every year (always
    for birthdays), else the full date must match.
Other triggers take no settings.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from ascolto.core.errors import ValidationFailed
from ascolto.engagement.models import EventType

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_OFFSET_DAYS = 366
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ATTRIBUTE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


def _fail(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed("The rule's trigger settings are not valid.", field_errors=errors)


def _check_keys(config: dict[str, Any], allowed: set[str], errors: dict[str, list[str]]) -> None:
    for key in sorted(set(config) - allowed):
        errors[f"trigger_config.{key}"] = [f"Unknown setting; use: {', '.join(sorted(allowed))}."]


def _time(config: dict[str, Any], default: str, errors: dict[str, list[str]]) -> str:
    value = config.get("at", default)
    if not isinstance(value, str) or not _TIME.match(value):
        errors["trigger_config.at"] = ["A time of day as HH:MM (24 hours), such as 09:30."]
        return default
    return value


def validate_trigger_config(trigger: str, config: Any) -> dict[str, Any]:
    """The normalised settings of a trigger; raises ValidationFailed naming the setting
    (`trigger_config.weekday`)."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise _fail({"trigger_config": ["Expected an object."]})
    errors: dict[str, list[str]] = {}
    result: dict[str, Any]
    if trigger == EventType.SCHEDULE:
        _check_keys(config, {"every", "at", "weekday"}, errors)
        every = config.get("every", "day")
        if every not in ("day", "week"):
            errors["trigger_config.every"] = ["day or week."]
        result = {"every": every, "at": _time(config, "09:00", errors)}
        if every == "week":
            weekday = config.get("weekday")
            if weekday not in WEEKDAYS:
                errors["trigger_config.weekday"] = [f"Choose one of: {', '.join(WEEKDAYS)}."]
            result["weekday"] = weekday
        elif "weekday" in config:
            errors["trigger_config.weekday"] = ['Only for "every": "week".']
    elif trigger == EventType.DATE:
        _check_keys(config, {"attribute", "offset_days", "yearly", "at"}, errors)
        attribute = config.get("attribute")
        if not isinstance(attribute, str) or not _ATTRIBUTE.match(attribute) or "__" in attribute:
            errors["trigger_config.attribute"] = ['"birthday" or the key of a date attribute.']
        offset = config.get("offset_days", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 366:
            errors["trigger_config.offset_days"] = [
                f"Whole days from -{MAX_OFFSET_DAYS} to {MAX_OFFSET_DAYS} (negative: before)."
            ]
        yearly = config.get("yearly", attribute == "birthday")
        if not isinstance(yearly, bool):
            errors["trigger_config.yearly"] = ["true or false."]
        elif attribute == "birthday" and not yearly:
            errors["trigger_config.yearly"] = ["Birthdays come every year."]
        result = {
            "attribute": attribute,
            "offset_days": offset,
            "yearly": yearly,
            "at": _time(config, "09:00", errors),
        }
    else:
        if config:
            errors["trigger_config"] = ["Only schedule and date triggers take settings."]
        result = {}
    if errors:
        raise _fail(errors)
    return result


def workspace_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def at_time(config: dict[str, Any]) -> dt.time:
    hours, minutes = str(config.get("at", "09:00")).split(":")
    return dt.time(int(hours), int(minutes))


def latest_period(
    config: dict[str, Any], zone: zoneinfo.ZoneInfo, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """The latest occurrence of a schedule at or before `now`: (period key, when it was due).
    Daily periods are dates (`2026-03-09`), weekly ones ISO weeks (`2026-W11`)."""
    local_now = now.astimezone(zone)
    when = at_time(config)
    day = local_now.date()
    if config.get("every") == "week":
        target = WEEKDAYS.index(config["weekday"])
        day -= dt.timedelta(days=(day.weekday() - target) % 7)
    due = dt.datetime.combine(day, when, tzinfo=zone)
    if due > local_now:
        day -= dt.timedelta(days=7 if config.get("every") == "week" else 1)
        due = dt.datetime.combine(day, when, tzinfo=zone)
    if config.get("every") == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", due.astimezone(dt.UTC)
    return day.isoformat(), due.astimezone(dt.UTC)


def anniversary_in(year: int, date: dt.date) -> dt.date:
    """The date's anniversary in a year; 29 February falls on the 28th in other years."""
    try:
        return date.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)
