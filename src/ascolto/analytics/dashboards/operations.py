"""Service operations: response and resolution times, SLA, backlog, handle time, volume by
channel and the weekday x hour heatmap."""

from __future__ import annotations

import datetime as dt

from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _

from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.conversations import filtered_facts
from ascolto.analytics.dashboards.figures import figures
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import conversation_values
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel

KEYS = [
    "conversations",
    "backlog",
    "frt_median",
    "nrt_median",
    "resolution_median",
    "aht_mean",
    "sla_first_response",
    "sla_resolution",
    "transfers",
    "automation_rate",
]


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    facts = filtered_facts(workspace=workspace, filters=filters)
    previous = filtered_facts(workspace=workspace, filters=filters.previous())
    labels = dict(Channel.choices)
    by_channel = sorted(m.volume_by_channel(facts).items(), key=lambda kv: (-kv[1], kv[0]))
    return Dashboard(
        key="operations",
        title=_("Service operations"),
        figures=figures(
            KEYS,
            conversation_values(facts, now=now),
            conversation_values(previous, now=now),
            filters,
            targets_of(workspace),
        ),
        charts=[
            charts.bars(
                _("Conversations by channel"),
                [(str(labels.get(k, k)), float(v)) for k, v in by_channel],
                rtl=rtl,
            ),
            charts.heatmap(
                _("Conversations by weekday and hour"),
                m.volume_heatmap(facts, tz=workspace.timezone),
                [str(WEEKDAYS_ABBR[d]) for d in range(7)],
                rtl=rtl,
            ),
        ],
    )
