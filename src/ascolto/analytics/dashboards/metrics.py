"""The metric catalogue shared by dashboards, targets and the API: one key, one definition.

`metric_values` computes every figure for a filter selection from the definitions in
`analytics.service_metrics` and `surveys.metrics`. Rates are percentages (0-100), durations
seconds, survey scores on their own scales. A figure with nothing to measure is None, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ascolto.analytics import rollups
from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.conversations import Facts, filtered_facts, subset
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.enps import selectors as enps_selectors
from ascolto.core.models import Workspace
from ascolto.surveys import metrics as survey_metrics
from ascolto.surveys import selectors as survey_selectors
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


def survey_counts(qs: QuerySet[Response]) -> dict[str, Any]:
    return qs.aggregate(
        responses=Count("id"),
        promoters=Count("id", filter=Q(nps_score__gte=survey_metrics.PROMOTER_MIN)),
        passives=Count(
            "id",
            filter=Q(
                nps_score__gt=survey_metrics.DETRACTOR_MAX,
                nps_score__lt=survey_metrics.PROMOTER_MIN,
            ),
        ),
        detractors=Count("id", filter=Q(nps_score__lte=survey_metrics.DETRACTOR_MAX)),
        csat_n=Count("csat_score"),
        csat_satisfied=Count("id", filter=Q(csat_score__gte=survey_metrics.CSAT_SATISFIED_MIN)),
        ces_n=Count("ces_score"),
        ces_total=Sum("ces_score"),
    )


def survey_values(counts: dict[str, Any]) -> dict[str, float | None]:
    nps = survey_metrics.nps_from_counts(
        promoters=counts["promoters"], passives=counts["passives"], detractors=counts["detractors"]
    )
    csat = survey_metrics.csat_from_counts(n=counts["csat_n"], satisfied=counts["csat_satisfied"])
    ces = survey_metrics.ces_from_counts(n=counts["ces_n"], total=float(counts["ces_total"] or 0))
    return {
        "nps": nps.score,
        "csat": csat.percent,
        "ces": ces.average,
        "survey_responses": float(counts["responses"]),
    }


# The survey breakdown that matches each dashboard filter (surveys.selectors.metric_counts).
SURVEY_BREAKDOWN = {
    "channel": "channel",
    "team": "team",
    "agent": "agent",
    "language": "language",
    "tier": "segment",
}


def survey_figures(*, workspace: Workspace, filters: DashboardFilters) -> dict[str, float | None]:
    """NPS, CSAT, CES and the response count of the selection. With no filter or one, whole
    past days come from the survey rollups (surveys/rollups.py); combined filters count the
    responses directly (in the database: a few queries however many responses)."""
    wanted = rollups.filter_key(filters)
    if wanted is None or "+" in wanted[0]:
        return survey_values(survey_counts(response_queryset(workspace=workspace, filters=filters)))
    dimension, key = wanted
    result = survey_selectors.metric_counts(
        workspace=workspace,
        filters=survey_selectors.ResponseFilter(
            since=filters.period.start, until=filters.period.end
        ),
        by=SURVEY_BREAKDOWN[dimension] if dimension else None,
    )
    group = result.totals
    if dimension:
        group = next((g for g, _label in result.groups if g.key == key), None) or (
            survey_metrics.summarize(survey_metrics.GroupCounts(key=key))
        )
    return {
        "nps": group.nps.score,
        "csat": group.csat.percent,
        "ces": group.ces.average,
        "survey_responses": float(group.responses),
    }


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
