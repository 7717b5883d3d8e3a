"""Team and agent view: per agent, the conversations assigned to them in the period, how fast
they answered and resolved, their handle time, online time and occupancy, what they have open
now against their capacity, and their customers' CSAT."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from ascolto.accounts.models import User
from ascolto.analytics import occupancy as occ
from ascolto.analytics import rollups, workload_rollups
from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards import charts, conversations
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.conversations import conversation_queryset, filtered_facts
from ascolto.analytics.dashboards.figures import Figure, conversation_drill, figures, format_value
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import CATALOGUE, conversation_values, response_queryset
from ascolto.analytics.enps import selectors as enps_selectors
from ascolto.core.models import Workspace
from ascolto.inbox.models import AgentProfile
from ascolto.surveys import metrics as survey_metrics
from ascolto.surveys import selectors as survey_selectors

KEYS = ["conversations", "resolved", "frt_median", "aht_mean"]


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    # No figure here needs the messages: reading them is most of the cost.
    chosen = rollups.selection(
        workspace=workspace, filters=filters, now=now, per_agent=True, with_messages=False
    )
    chosen_before = rollups.selection(
        workspace=workspace, filters=filters.previous(), now=now, with_messages=False
    )
    if chosen is not None and chosen_before is not None:
        current = chosen.values(now=now)
        previous = chosen_before.values(now=now)
        per_agent = chosen.agent_values(now=now)
    else:
        current, previous, per_agent = _direct(workspace, filters, now)
    csat_by_agent = _csat_by_agent(workspace, filters)
    time_by_agent, open_by_agent, capacity_by_agent = _workload(workspace, filters, now)
    agent_ids = sorted(
        set(per_agent) | set(csat_by_agent) | set(time_by_agent) | set(open_by_agent)
    )
    agents = {u.pk: u for u in User.objects.filter(pk__in=agent_ids)}
    rows = []
    volume = []
    for agent_id in sorted(agent_ids, key=lambda pk: str(agents[pk]).lower()):
        values = per_agent.get(agent_id) or conversation_values([], now=now, with_messages=False)
        agent_filters = replace(filters, agent_id=agent_id)
        name = str(agents[agent_id])
        volume.append((name, values["conversations"] or 0.0))
        rows.append(
            [
                (name, ""),
                (
                    format_value(values["conversations"], "count"),
                    conversation_drill(agent_filters, "all"),
                ),
                (
                    format_value(values["resolved"], "count"),
                    conversation_drill(agent_filters, "resolved"),
                ),
                (
                    format_value(values["frt_median"], "seconds"),
                    conversation_drill(agent_filters, "answered"),
                ),
                (format_value(values["aht_mean"], "seconds"), ""),
                *_workload_cells(
                    time_by_agent.get(agent_id),
                    open_by_agent.get(agent_id, 0),
                    capacity_by_agent.get(agent_id),
                    conversation_drill(agent_filters, "open_now"),
                ),
                (format_value(csat_by_agent.get(agent_id), "percent"), ""),
            ]
        )
    return Dashboard(
        key="team",
        title=_("Team and agents"),
        figures=[
            *figures(KEYS, current, previous, filters, targets_of(workspace)),
            *_enps_figure(workspace, now),
        ],
        charts=[
            charts.bars(_("Conversations per agent"), volume, rtl=rtl),
            *_enps_trend(workspace, now, rtl=rtl),
        ],
        table_headers=[
            _("Agent"),
            _("Conversations"),
            _("Resolved"),
            _("First response time (median)"),
            _("Average handle time"),
            _("Online time"),
            _("Occupancy"),
            _("Open now / capacity"),
            _("CSAT"),
        ],
        table_rows=rows,
    )


Values = dict[str, float | None]
ENPS_TREND_PULSES = 6


def _enps_figure(workspace: Workspace, now: dt.datetime) -> list[Figure]:
    """Employee NPS of the latest closed pulse against the pulse before; the dashboard's
    filters do not apply (answers are anonymous: no team, agent or channel on them)."""
    latest = enps_selectors.latest_closed(workspace=workspace, now=now, count=2)
    d = CATALOGUE["enps"]
    return [
        Figure(
            key=d.key,
            label=d.label,
            value=latest[0].score if latest else None,
            previous=latest[1].score if len(latest) > 1 else None,
            unit=d.unit,
            higher_is_better=d.higher_is_better,
            target=targets_of(workspace).get(d.key),
        )
    ]


def _enps_trend(workspace: Workspace, now: dt.datetime, *, rtl: bool) -> list[charts.Chart]:
    """eNPS of the last closed pulses, oldest first; none before the first pulse closes."""
    pulses = enps_selectors.latest_closed(workspace=workspace, now=now, count=ENPS_TREND_PULSES)
    if not pulses:
        return []
    pulses.reverse()
    return [
        charts.trend_line(
            _("Employee NPS per pulse"),
            [f"{r.pulse.period_start:%Y-%m}" for r in pulses],
            [r.score for r in pulses],
            [],
            current_label=_("Employee NPS"),
            previous_label="",
            rtl=rtl,
        )
    ]


def _direct(
    workspace: Workspace, filters: DashboardFilters, now: dt.datetime
) -> tuple[Values, Values, dict[int, Values]]:
    """The figures from the conversations themselves (combined filters, rollups not built)."""
    # No figure here needs the messages: reading them is most of the cost.
    facts = filtered_facts(workspace=workspace, filters=filters, with_messages=False)
    previous = filtered_facts(workspace=workspace, filters=filters.previous(), with_messages=False)
    assignee_of = dict(
        conversation_queryset(workspace=workspace, filters=filters).values_list("id", "assignee_id")
    )
    mine: dict[int, list[m.ConversationFacts]] = {}
    for c in facts:
        agent_id = assignee_of.get(c.id)
        if agent_id is not None:
            mine.setdefault(agent_id, []).append(c)
    return (
        conversation_values(facts, now=now, with_messages=False),
        conversation_values(previous, now=now, with_messages=False),
        {a: conversation_values(f, now=now, with_messages=False) for a, f in mine.items()},
    )


def _csat_by_agent(workspace: Workspace, filters: DashboardFilters) -> dict[int, float | None]:
    """CSAT per agent of the answers in the selection: from the survey rollups' agent breakdown
    without a filter or with the agent one, else counted directly."""
    if filters.agent_id is not None or rollups.filter_key(filters) == ("", ""):
        result = survey_selectors.metric_counts(
            workspace=workspace,
            filters=survey_selectors.ResponseFilter(
                since=filters.period.start, until=filters.period.end
            ),
            by="agent",
        )
        return {
            int(g.key): g.csat.percent
            for g, _label in result.groups
            if g.key and g.csat.n and (filters.agent_id is None or int(g.key) == filters.agent_id)
        }
    return {
        row["agent_id"]: survey_metrics.csat_from_counts(n=row["n"], satisfied=row["ok"]).percent
        for row in response_queryset(workspace=workspace, filters=filters)
        .filter(csat_score__isnull=False, agent__isnull=False)
        .values("agent_id")
        .annotate(
            n=Count("id"),
            ok=Count("id", filter=Q(csat_score__gte=survey_metrics.CSAT_SATISFIED_MIN)),
        )
        .order_by()
    }


def _workload(
    workspace: Workspace, filters: DashboardFilters, now: dt.datetime
) -> tuple[dict[int, occ.AgentTime], dict[int, int], dict[int, int | None]]:
    """Per agent: online and busy time in the period (analytics.occupancy's definitions, read
    from the agent-day rows, analytics.workload_rollups), the conversations assigned and open
    now (the "open_now" drill-down's condition, on the index of open conversations) and their
    capacity on the channel filtered, if any. Aggregate reads, none per conversation."""
    agent_ids: list[int] | None = None
    if filters.agent_id is not None:
        agent_ids = [filters.agent_id]
    elif filters.team_id is not None:
        agent_ids = list(
            User.objects.filter(teams=filters.team_id).values_list("pk", flat=True).order_by("pk")
        )
    times = workload_rollups.agent_times(
        workspace=workspace,
        start=filters.period.start,
        end=filters.period.end,
        now=now,
        agent_ids=agent_ids,
    )
    open_now = {
        row["assignee_id"]: row["n"]
        for row in conversations.subset_queryset(
            workspace=workspace, filters=filters, name="open_now", now=now
        )
        .values("assignee_id")
        .annotate(n=Count("*"))  # not Count("id"): the id is not in the index, the row is read
        .order_by()
    }
    capacity = {
        user_id: occ.capacity_limit(raw, filters.channel)
        for user_id, raw in AgentProfile.objects.filter(
            workspace=workspace, user_id__in=set(times) | set(open_now)
        ).values_list("user_id", "capacity")
    }
    return times, open_now, capacity


def _workload_cells(
    time: occ.AgentTime | None, open_now: int, limit: int | None, drill: str
) -> list[tuple[str, str]]:
    occupancy = time.occupancy if time is not None else None
    workload = f"{open_now} / {limit}" if limit is not None else str(open_now)
    return [
        (format_value(time.online_seconds if time else None, "seconds"), ""),
        (format_value(None if occupancy is None else 100 * occupancy, "percent"), ""),
        (workload, drill),
    ]
