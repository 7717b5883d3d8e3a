"""CX overview: volume, speed, quality and what customers say, against the previous period."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ascolto.analytics import rollups
from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.conversations import Facts, filtered_facts
from ascolto.analytics.dashboards.figures import figures
from ascolto.analytics.dashboards.filters import DashboardFilters, Period
from ascolto.analytics.dashboards.metrics import metric_values, survey_figures
from ascolto.core.models import Workspace

KEYS = [
    "conversations",
    "resolved",
    "frt_median",
    "resolution_median",
    "fcr_rate",
    "reopen_rate",
    "nps",
    "csat",
    "ces",
]


def daily_counts(facts: Facts, period: Period) -> list[float | None]:
    """Conversations started on each day of the period (workspace time zone)."""
    zone = period.start.tzinfo
    return _per_day(Counter(c.started_at.astimezone(zone).date() for c in facts), period)


def _per_day(days: Counter[dt.date], period: Period) -> list[float | None]:
    return [float(days.get(period.first_day + dt.timedelta(days=n), 0)) for n in range(period.days)]


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    previous_filters = filters.previous()
    # None of the overview's figures needs the messages: reading them is most of the cost.
    chosen = rollups.selection(workspace=workspace, filters=filters, now=now, with_messages=False)
    chosen_before = rollups.selection(
        workspace=workspace, filters=previous_filters, now=now, with_messages=False
    )
    if chosen is not None and chosen_before is not None:
        current = chosen.values(now=now) | survey_figures(workspace=workspace, filters=filters)
        previous = chosen_before.values(now=now) | survey_figures(
            workspace=workspace, filters=previous_filters
        )
        series = _per_day(chosen.total.days, filters.period)
        series_before = _per_day(chosen_before.total.days, previous_filters.period)
    else:
        facts = filtered_facts(workspace=workspace, filters=filters, with_messages=False)
        previous_facts = filtered_facts(
            workspace=workspace, filters=previous_filters, with_messages=False
        )
        current = metric_values(
            workspace=workspace, filters=filters, now=now, facts=facts, with_messages=False
        )
        previous = metric_values(
            workspace=workspace,
            filters=previous_filters,
            now=now,
            facts=previous_facts,
            with_messages=False,
        )
        series = daily_counts(facts, filters.period)
        series_before = daily_counts(previous_facts, previous_filters.period)
    labels = [date_format(day, "SHORT_DATE_FORMAT") for day in filters.period.day_starts()]
    trend = charts.trend_line(
        _("Conversations per day"),
        labels,
        series,
        series_before,
        current_label=_("This period"),
        previous_label=_("Previous period"),
        rtl=rtl,
    )
    return Dashboard(
        key="overview",
        title=_("CX overview"),
        figures=figures(KEYS, current, previous, filters, targets_of(workspace)),
        charts=[trend],
    )
