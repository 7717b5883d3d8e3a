"""The journey page (/analytics/journey/) and its drill-down, for members of the workspace.

Views parse the filters (a 400 saying what is wrong on bad input), call one journey selector
and render. Every read is scoped by the current workspace.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ascolto.analytics.dashboards.charts import Chart, bars
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters, parse_filters
from ascolto.analytics.journey import selectors
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, render_in_workspace
from ascolto.customers.models import ValueTier

PAGE_PAIN_POINTS = 15


def _filters(request: HttpRequest, workspace: Workspace) -> DashboardFilters | HttpResponse:
    try:
        return parse_filters(request.GET, workspace=workspace)
    except ValidationFailed as exc:
        return bad_request(request, exc.message)


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


def _base_context(filters: DashboardFilters, **extra: Any) -> dict[str, Any]:
    tier_labels = dict(ValueTier.choices)
    return {
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
    filters = _filters(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    journey = selectors.journey(workspace=workspace, filters=filters)
    return render_in_workspace(
        request,
        "analytics/journey.html",
        _base_context(
            filters,
            journey=journey,
            charts=_charts(journey, get_language_bidi()),
            stage_rows=[_stage_row(s) for s in journey.stages],
            pain_rows=[_pain_row(p) for p in journey.pain_points[:PAGE_PAIN_POINTS]],
        ),
    )


@login_required
@require_GET
def journey_drill(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    filters = _filters(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    try:
        drill = selectors.journey_drill(
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
        _base_context(filters, drill=drill, limit=selectors.DRILL_LIMIT),
    )
