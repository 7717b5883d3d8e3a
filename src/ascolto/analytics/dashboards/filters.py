"""The filters every dashboard, drill-down, export and API call shares.

A period is whole days in the workspace's time zone: `from` and `to` are inclusive dates. The
comparison period is the same number of days immediately before. Bad input raises
`ValidationFailed` naming the field, which the views and the API turn into a 400.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.accounts.models import Membership, Team
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import ValueTier
from ascolto.inbox.models import Channel

DEFAULT_DAYS = 28
MAX_DAYS = 366
MAX_LANGUAGE = 8
# "unranked" stands for the empty value tier, as in the customer list.
TIERS = {**{tier: tier for tier in ValueTier.values if tier}, "unranked": ""}


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # inclusive, aware
    end: dt.datetime  # exclusive, aware
    first_day: dt.date
    last_day: dt.date

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """The same number of days just before this period."""
        last = self.first_day - dt.timedelta(days=1)
        first = last - dt.timedelta(days=self.days - 1)
        zone = self.start.tzinfo
        assert zone is not None
        return period_of(first, last, zone)

    def day_starts(self) -> list[dt.datetime]:
        zone = self.start.tzinfo
        return [
            dt.datetime.combine(self.first_day + dt.timedelta(days=n), dt.time(), zone)
            for n in range(self.days)
        ]


def period_of(first: dt.date, last: dt.date, zone: dt.tzinfo) -> Period:
    start = dt.datetime.combine(first, dt.time(), zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
    return Period(start=start, end=end, first_day=first, last_day=last)


@dataclass(frozen=True)
class DashboardFilters:
    period: Period
    channel: str = ""
    team_id: int | None = None
    agent_id: int | None = None
    language: str = ""
    tier: str = ""  # a key of TIERS, or "" for all

    @property
    def tier_value(self) -> str | None:
        return TIERS[self.tier] if self.tier else None

    def previous(self) -> DashboardFilters:
        return replace(self, period=self.period.previous())

    def params(self) -> dict[str, str]:
        """The query-string form, so a link (a drill-down, an export) keeps the same filters."""
        params = {
            "from": self.period.first_day.isoformat(),
            "to": self.period.last_day.isoformat(),
            "channel": self.channel,
            "team": str(self.team_id) if self.team_id is not None else "",
            "agent": str(self.agent_id) if self.agent_id is not None else "",
            "language": self.language,
            "tier": self.tier,
        }
        return {key: value for key, value in params.items() if value}

    def query(self, **extra: str) -> str:
        return urlencode({**self.params(), **extra})


def _date(params: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = [_("Give a date as YYYY-MM-DD.")]
        return None


def _id(params: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        errors[name] = [_("Give a number.")]
        return None
    return int(raw)


def parse_filters(
    params: Mapping[str, str], *, workspace: Workspace, today: dt.date | None = None
) -> DashboardFilters:
    """Filters from query parameters (`from`, `to`, `channel`, `team`, `agent`, `language`,
    `tier`). Without dates: the last 28 days up to today in the workspace's time zone. A team or
    agent of another workspace is refused like an unknown one.

    Raises ValidationFailed with one message per bad field.
    """
    zone = ZoneInfo(workspace.timezone)
    if today is None:
        today = timezone.now().astimezone(zone).date()
    errors: dict[str, list[str]] = {}
    first = _date(params, "from", errors)
    last = _date(params, "to", errors)
    if last is None and "to" not in errors:
        last = today
    if first is None and "from" not in errors and last is not None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first is not None and last is not None:
        if first > last:
            errors["from"] = [_("The start date must not be after the end date.")]
        elif (last - first).days + 1 > MAX_DAYS:
            errors["to"] = [_("Choose at most %(days)s days.") % {"days": MAX_DAYS}]
    channel = (params.get("channel") or "").strip()
    if channel and channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    language = (params.get("language") or "").strip()
    if len(language) > MAX_LANGUAGE or not all(c.isalnum() or c == "-" for c in language):
        errors["language"] = [_("Give a language code such as “en” or “it”.")]
    tier = (params.get("tier") or "").strip()
    if tier and tier not in TIERS:
        errors["tier"] = [_("Unknown value tier.")]
    team_id = _id(params, "team", errors)
    if team_id is not None and not Team.objects.filter(workspace=workspace, pk=team_id).exists():
        errors["team"] = [_("No such team in this workspace.")]
    agent_id = _id(params, "agent", errors)
    if (
        agent_id is not None
        and not Membership.objects.filter(workspace=workspace, user_id=agent_id).exists()
    ):
        errors["agent"] = [_("No such agent in this workspace.")]
    if errors or first is None or last is None:
        message = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in errors.items())
        raise ValidationFailed(message or _("Invalid filters."), field_errors=errors)
    return DashboardFilters(
        period=period_of(first, last, zone),
        channel=channel,
        team_id=team_id,
        agent_id=agent_id,
        language=language,
        tier=tier,
    )
