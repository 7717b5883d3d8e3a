"""Service operations: response and resolution times, SLA, backlog, handle time, the assistant's
automation rate, confirmed resolutions and deflection, volume by channel and the weekday x hour
heatmap."""

from __future__ import annotations

import datetime as dt

from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _

from ascolto.analytics import rollups, workload_rollups
from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.conversations import filtered_facts
from ascolto.analytics.dashboards.figures import Figure, conversation_drill, figures
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
    chosen = rollups.selection(workspace=workspace, filters=filters, now=now, charts=True)
    chosen_before = rollups.selection(workspace=workspace, filters=filters.previous(), now=now)
    if chosen is not None and chosen_before is not None:
        current = chosen.values(now=now)
        previous = chosen_before.values(now=now)
        volume = dict(chosen.total.channels)
        heat = chosen.total.heatmap()
    else:
        facts = filtered_facts(workspace=workspace, filters=filters)
        current = conversation_values(facts, now=now)
        previous = conversation_values(
            filtered_facts(workspace=workspace, filters=filters.previous()), now=now
        )
        volume = m.volume_by_channel(facts)
        heat = m.volume_heatmap(facts, tz=workspace.timezone)
    labels = dict(Channel.choices)
    by_channel = sorted(((k, v) for k, v in volume.items() if v), key=lambda kv: (-kv[1], kv[0]))
    return Dashboard(
        key="operations",
        title=_("Service operations"),
        figures=[
            *figures(KEYS, current, previous, filters, targets_of(workspace)),
            *_assistant_figures(workspace, filters, now),
        ],
        charts=[
            charts.bars(
                _("Conversations by channel"),
                [(str(labels.get(k, k)), float(v)) for k, v in by_channel],
                rtl=rtl,
            ),
            charts.heatmap(
                _("Conversations by weekday and hour"),
                heat,
                [str(WEEKDAYS_ABBR[d]) for d in range(7)],
                rtl=rtl,
            ),
        ],
    )


def _assistant_figures(
    workspace: Workspace, filters: DashboardFilters, now: dt.datetime
) -> list[Figure]:
    """The assistant's confirmed resolutions and deflection (confirmed, assumed) for the period
    and the one before, as assistant.selectors defines them (docs/assistant.md, "Figures"),
    read from the assistant-day rows (analytics.workload_rollups). They are
    workspace-wide: with any filter but the period they show no value rather than a number
    the filter did not narrow. Deflection offers precede any conversation: no drill-down."""
    narrowed = bool(
        filters.channel
        or filters.team_id is not None
        or filters.agent_id is not None
        or filters.language
        or filters.tier
    )
    values: list[dict[str, float | None]] = []
    for period in (filters.period, filters.period.previous()):
        if narrowed:
            values.append({})
            continue
        values.append(
            {
                key: float(n)
                for key, n in workload_rollups.assistant_figures(
                    workspace=workspace, start=period.start, end=period.end, now=now
                ).items()
            }
        )
    current, previous = values
    return [
        Figure(
            key=key,
            label=label,
            value=current.get(key),
            previous=previous.get(key),
            unit="count",
            higher_is_better=True,
            href=href if not narrowed else "",
        )
        for key, label, href in [
            (
                "confirmed_resolutions",
                _("Confirmed resolutions (assistant)"),
                conversation_drill(filters, "bot_confirmed"),
            ),
            ("deflection_confirmed", _("Deflection, confirmed"), ""),
            ("deflection_assumed", _("Deflection, assumed"), ""),
        ]
    ]
