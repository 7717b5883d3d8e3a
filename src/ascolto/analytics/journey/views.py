"""The journey page (/analytics/journey/) and its drill-down, for members of the workspace.

Views parse the filters (a 400 saying what is wrong on bad input), call one journey selector
and render. Every read is scoped by the current workspace.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import get_language_bidi, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ascolto.analytics.dashboards.charts import Chart, bars
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters
from ascolto.analytics.journey import selectors, snapshots
from ascolto.analytics.views import filters_or_400
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, render_in_workspace
from ascolto.customers.models import ValueTier

PAGE_PAIN_POINTS = 15


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _charts(journey: selectors.Journey, rtl: bool) -> list[Chart]:
    pains = [p for p in journey.pain_points if p.score is not None and p.score > 0][:10]
    return [
        bars(
            _("Interactions per stage"),
            [(s.label, float(s.interactions)) for s in journey.stages],
            rtl=rtl,
        ),
        bars(
            _("Negative interactions per stage (percent)"),
            [(s.label, _percent(s.negative_share)) for s in journey.stages],
            rtl=rtl,
        ),
        bars(
            _("Top pain points (extra unhappy customers)"),
            [(p.label, round(p.score or 0.0, 1)) for p in pains],
            rtl=rtl,
        ),
    ]


def _stage_row(s: selectors.StageFigures) -> dict[str, Any]:
    return {
        "stage": s.stage,
        "label": s.label,
        "interactions": s.interactions,
        "customers": s.customers,
        "negative_pct": _percent(s.negative_share),
        "nps_touched": s.nps_touched,
        "nps_not_touched": s.nps_not_touched,
        "nps_effect": s.nps_effect,
        "churn_touched_pct": _percent(s.churn_touched),
        "churn_not_touched_pct": _percent(s.churn_not_touched),
        "churn_effect_pts": _percent(s.churn_effect),
    }


def _pain_row(p: selectors.PainPoint) -> dict[str, Any]:
    return {
        "key": p.key,
        "label": p.label,
        "interactions": p.interactions,
        "customers": p.customers,
        "unhappy_pct": _percent(p.unhappy_share),
        "baseline_pct": _percent(p.baseline_share),
        "impact_pts": _percent(p.impact),
        "score": None if p.score is None else round(p.score, 1),
        "nps_effect": p.nps_effect,
    }


def _presets(filters: DashboardFilters, workspace: Workspace) -> list[tuple[str, str]]:
    """Links to the periods kept as snapshots: the last 7, 28 and 90 days up to today."""
    today = timezone.now().astimezone(ZoneInfo(workspace.timezone)).date()
    found = []
    for days in snapshots.PRESET_DAYS:
        first = today - dt.timedelta(days=days - 1)
        params = {"from": first.isoformat(), "to": today.isoformat(), "tier": filters.tier}
        query = urlencode(params)
        label = ngettext("Last %(days)s day", "Last %(days)s days", days) % {"days": days}
        found.append((label, query))
    return found


def _base_context(filters: DashboardFilters, workspace: Workspace, **extra: Any) -> dict[str, Any]:
    tier_labels = dict(ValueTier.choices)
    return {
        "presets": _presets(filters, workspace),
        "section": "analytics",
        "filters": filters,
        "query": filters.query(),
        "tiers": [(key, tier_labels[value]) for key, value in TIERS.items()],
        **extra,
    }


@login_required
@require_GET
def journey_page(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    read = snapshots.journey_for_page(workspace=workspace, filters=filters)
    journey = read.journey
    if journey is None:  # a large workspace: queued, the page polls until it is stored
        return render_in_workspace(
            request, "analytics/journey.html", _base_context(filters, workspace, pending=True)
        )
    return render_in_workspace(
        request,
        "analytics/journey.html",
        _base_context(
            filters,
            workspace,
            journey=journey,
            computed_at=read.computed_at,
            charts=_charts(journey, get_language_bidi()),
            stage_rows=[_stage_row(s) for s in journey.stages],
            pain_rows=[_pain_row(p) for p in journey.pain_points[:PAGE_PAIN_POINTS]],
        ),
    )


@login_required
@require_GET
def journey_drill(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    try:
        drill = snapshots.drill_for_page(
            workspace=workspace,
            filters=filters,
            stage=request.GET.get("stage", ""),
            cause=request.GET.get("cause", ""),
        )
    except ValidationFailed as exc:
        return bad_request(request, exc.message)
    return render_in_workspace(
        request,
        "analytics/journey_drill.html",
        _base_context(filters, workspace, drill=drill, limit=selectors.DRILL_LIMIT),
    )
