"""The metric catalogue shared by dashboards, targets and the API: one key, one definition.

`metric_values` computes every figure for a filter selection from the definitions in
`analytics.service_metrics` and `surveys.metrics`. Rates are percentages (0-100), durations
seconds, survey scores on their own scales. A figure with nothing to measure is None, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ascolto.analytics import rollups
from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.conversations import Facts, filtered_facts, subset
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.enps import selectors as enps_selectors
from ascolto.core.models import Workspace
from ascolto.surveys import metrics as survey_metrics
from ascolto.surveys import selections as survey_selections
from ascolto.surveys.models import Response


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: Any
    unit: str  # count | percent | seconds | score
    higher_is_better: bool
    drill: str = ""  # the conversation subset behind the number, when it is a count of them


CATALOGUE: dict[str, MetricDef] = {
    d.key: d
    for d in [
        MetricDef("conversations", _("Conversations"), "count", True, "all"),
        MetricDef("resolved", _("Resolved"), "count", True, "resolved"),
        MetricDef("backlog", _("Backlog"), "count", False, "active"),
        MetricDef("frt_median", _("First response time (median)"), "seconds", False, "answered"),
        MetricDef("nrt_median", _("Next response time (median)"), "seconds", False, "answered"),
        MetricDef("resolution_median", _("Resolution time (median)"), "seconds", False, "resolved"),
        MetricDef("aht_mean", _("Average handle time"), "seconds", False, "handled"),
        MetricDef("reopen_rate", _("Reopen rate"), "percent", False, "reopened"),
        MetricDef("fcr_rate", _("First-contact resolution"), "percent", True, "resolved"),
        MetricDef("transfers", _("Transfers per conversation"), "score", False, "transferred"),
        MetricDef("sla_first_response", _("First response SLA met"), "percent", True, "frt_missed"),
        MetricDef("sla_resolution", _("Resolution SLA met"), "percent", True, "resolution_missed"),
        MetricDef("automation_rate", _("Automation rate"), "percent", True, "bot_resolved"),
        MetricDef("nps", _("NPS"), "score", True),
        MetricDef("csat", _("CSAT"), "percent", True),
        MetricDef("ces", _("CES"), "score", True),
        MetricDef("survey_responses", _("Survey responses"), "count", True),
        MetricDef("enps", _("Employee NPS (latest pulse)"), "score", True),
    ]
}


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def conversation_values(
    facts: Facts, *, now: dt.datetime, with_messages: bool = True
) -> dict[str, float | None]:
    """The conversation metrics of the facts; those that need the messages (next response
    time, automation rate) are None when the facts were read without them."""
    handled = [m.handle_time(c) for c in facts if c.handling]
    sla = m.sla_compliance(facts, now=now)
    nrts = [t for c in facts for t in m.next_response_times(c)]
    return {
        "conversations": float(len(facts)),
        "resolved": float(len(subset(facts, "resolved", now=now))),
        "backlog": float(len(subset(facts, "active", now=now))),
        "frt_median": m.summarize(m.first_response_time(c) for c in facts).median,
        "nrt_median": m.summarize(nrts).median,
        "resolution_median": m.summarize(m.resolution_time(c) for c in facts).median,
        "aht_mean": m.summarize(handled).mean,
        "reopen_rate": _pct(m.reopen_rate(facts)),
        "fcr_rate": _pct(m.first_contact_resolution_rate(facts, now=now)),
        "transfers": m.transfers_per_conversation(facts),
        "sla_first_response": _pct(sla["first_response"]),
        "sla_resolution": _pct(sla["resolution"]),
        "automation_rate": _pct(m.automation_rate(facts)) if with_messages else None,
    } | ({} if with_messages else {"nrt_median": None})


def response_queryset(*, workspace: Workspace, filters: DashboardFilters) -> QuerySet[Response]:
    """Survey responses given in the period that match the filters (the context copied onto
    each response at creation: channel, team, agent, language, segment)."""
    qs = Response.objects.filter(
        workspace=workspace,
        created_at__gte=filters.period.start,
        created_at__lt=filters.period.end,
    )
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.team_id is not None:
        qs = qs.filter(team_id=filters.team_id)
    if filters.agent_id is not None:
        qs = qs.filter(agent_id=filters.agent_id)
    if filters.language:
        qs = qs.filter(language=filters.language)
    if filters.tier_value is not None:
        qs = qs.filter(segment=filters.tier_value)
    return qs


def survey_selection(filters: DashboardFilters) -> survey_selections.Selection:
    """The survey selection of the dashboard filters (the tier filter is the response's
    segment)."""
    return survey_selections.Selection(
        since=filters.period.start,
        until=filters.period.end,
        channel=filters.channel or None,
        team_id=filters.team_id,
        agent_id=filters.agent_id,
        segment=filters.tier_value,
        language=filters.language or None,
    )


def survey_figure_values(group: survey_metrics.GroupMetrics) -> dict[str, float | None]:
    return {
        "nps": group.nps.score,
        "csat": group.csat.percent,
        "ces": group.ces.average,
        "survey_responses": float(group.responses),
    }


def survey_figures(*, workspace: Workspace, filters: DashboardFilters) -> dict[str, float | None]:
    """NPS, CSAT, CES and the response count of the selection (responses and website answers,
    surveys/selections.py): whole past days from the survey rollups, the edges counted
    directly."""
    found = survey_selections.selection_figures(
        workspace=workspace, selection=survey_selection(filters)
    )
    return survey_figure_values(found.totals)


def metric_values(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    now: dt.datetime | None = None,
    facts: Facts | None = None,
    with_messages: bool = True,
) -> dict[str, float | None]:
    """Every catalogue metric for the selection, keyed as `CATALOGUE`. `facts`, when given,
    are the selection's (read `with_messages` or not); otherwise the conversation figures come
    from the rollups when they can (`rollups.selection`), else from the facts."""
    moment = now or timezone.now()
    values: dict[str, float | None] | None = None
    if facts is None:
        chosen = rollups.selection(
            workspace=workspace, filters=filters, now=moment, with_messages=with_messages
        )
        if chosen is not None:
            values = chosen.values(now=moment)
        else:
            facts = filtered_facts(
                workspace=workspace, filters=filters, with_messages=with_messages
            )
    if values is None:
        values = conversation_values(facts or [], now=moment, with_messages=with_messages)
    values.update(survey_figures(workspace=workspace, filters=filters))
    values["enps"] = enps_value(workspace=workspace, filters=filters, now=moment)
    return values


def enps_value(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime
) -> float | None:
    """Employee NPS as of the period's end: the latest pulse closed by then (pulses are
    periodic and anonymous, so the dashboard's filters do not apply)."""
    latest = enps_selectors.latest_closed(
        workspace=workspace, now=min(now, filters.period.end), count=1
    )
    return latest[0].score if latest else None


def delta(current: float | None, previous: float | None) -> float | None:
    """Change from the previous period, in the metric's own unit (points for rates)."""
    if current is None or previous is None:
        return None
    return current - previous
