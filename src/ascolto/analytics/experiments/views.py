"""Staff pages of experiments at /analytics/experiments/: the list, the form that creates one,
and the detail with its results. Every member reads; admins create, start and stop."""

from __future__ import annotations

import json
import math
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.analytics.dashboards.charts import bars
from ascolto.analytics.experiments import results, selectors, services, stats
from ascolto.analytics.experiments.catalogue import METRICS
from ascolto.analytics.experiments.chart import interval_chart
from ascolto.analytics.experiments.levers import LEVERS
from ascolto.analytics.models import Experiment
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, render_in_workspace

DEFAULT_VARIANTS = [
    {"key": "A", "weight": 50, "payload": {}},
    {"key": "B", "weight": 50, "payload": {}},
]


def _is_admin(request: HttpRequest, workspace: Workspace) -> bool:
    return has_permission(user=cast(User, request.user), workspace=workspace, permission="admin")


def _admin(request: HttpRequest) -> Workspace:
    workspace = current_workspace(request)
    if not _is_admin(request, workspace):
        raise PermissionDenied(_("Only workspace owners and admins can run experiments."))
    return workspace


def _get(workspace: Workspace, pk: int) -> Experiment:
    try:
        return selectors.experiment_get(workspace=workspace, experiment_id=pk)
    except NotFound:
        raise Http404(_("No such experiment.")) from None


def _choices() -> dict[str, Any]:
    return {
        "units": Experiment.Unit.choices,
        "designs": Experiment.Design.choices,
        "metrics": [(m.key, m.label, m.binary) for m in METRICS.values()],
        "levers": [(lever.key, lever.label, lever.help) for lever in LEVERS.values()],
    }


@login_required
@require_GET
def experiment_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    return render_in_workspace(
        request,
        "analytics/experiments/list.html",
        {
            "section": "analytics",
            "experiments": list(selectors.experiment_list(workspace=workspace)[:200]),
            "metric_labels": {k: m.label for k, m in METRICS.items()},
            "can_admin": _is_admin(request, workspace),
        },
    )


def _number(raw: str, field: str, errors: dict[str, list[str]]) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.setdefault(field, []).append(_("Enter a number."))
        return 0.0
    return value


@login_required
@require_http_methods(["GET", "POST"])
def experiment_new(request: HttpRequest) -> HttpResponse:
    workspace = _admin(request)
    form: dict[str, Any] = {
        "name": "",
        "hypothesis": "",
        "unit": "conversation",
        "lever": "",
        "metric": "csat_positive",
        "design": "fixed",
        "baseline": "0.8",
        "mde": "0.05",
        "alpha": "0.05",
        "power": "0.8",
        "variants": json.dumps(DEFAULT_VARIANTS, indent=2),
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form.update({k: request.POST.get(k, "").strip() for k in form})
        numbers = {k: _number(form[k], k, errors) for k in ("baseline", "mde", "alpha", "power")}
        try:
            variants = json.loads(form["variants"] or "null")
        except ValueError:
            errors["variants"] = [_("The variants are not valid JSON.")]
        if not errors:
            try:
                with transaction.atomic():
                    experiment = services.experiment_create(
                        workspace=workspace,
                        name=form["name"],
                        hypothesis=form["hypothesis"],
                        unit=form["unit"],
                        lever=form["lever"],
                        variants=variants,
                        metric=form["metric"],
                        design=form["design"],
                        **numbers,
                    )
            except ValidationFailed as exc:
                errors = exc.field_errors or {"name": [exc.message]}
            else:
                return redirect("analytics:experiment_detail", pk=experiment.pk)
    return render_in_workspace(
        request,
        "analytics/experiments/new.html",
        {"section": "analytics", "form": form, "errors": errors, **_choices()},
        status=422 if errors else 200,
    )


def _explanation(e: Experiment) -> str:
    """The planned sample size with the design's numbers put in, for people to check."""
    za, zb = stats.normal_quantile(1 - e.alpha / 2), stats.normal_quantile(e.power)
    if METRICS[e.metric].binary:
        p1, p2 = e.baseline, e.baseline + e.mde
        bar = (p1 + p2) / 2
        return (
            f"n = ({za:.3f} * √(2 * {bar:.4g} * {1 - bar:.4g}) + {zb:.3f} * "
            f"√({p1:.4g} * {1 - p1:.4g} + {p2:.4g} * {1 - p2:.4g}))² / {e.mde:.4g}² "
            f"= {e.sample_size}"
        )
    return f"n = 2 * ({za:.3f} + {zb:.3f})² * {e.baseline:.4g}² / {e.mde:.4g}² = {e.sample_size}"


def _decision_label(key: str) -> str:
    labels = {
        "not_enough_data": _("Not enough data yet"),
        "better": _("Better than the control"),
        "worse": _("Worse than the control"),
        "continue": _("No decision yet: keep running"),
        "no_difference": _("No significant difference"),
    }
    return labels.get(key, "")


@login_required
@require_GET
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    e = _get(workspace, pk)
    result = results.experiment_results(e)
    metric = METRICS[e.metric]
    scale = 100.0 if metric.binary else 1.0
    rtl = get_language_bidi()
    charts = [
        bars(
            _("Rate per variant (%)") if metric.binary else _("Mean per variant"),
            [(v.key, None if v.mean is None else v.mean * scale) for v in result.variants],
            rtl=rtl,
        )
    ]
    intervals = [
        (
            v.key,
            v.comparison.difference * scale,
            v.comparison.ci_low * scale,
            v.comparison.ci_high * scale,
        )
        for v in result.variants[1:]
        if v.comparison
        and v.comparison.difference is not None
        and v.comparison.ci_low is not None
        and v.comparison.ci_high is not None
    ]
    if intervals:
        chart = interval_chart(
            _("Difference from the control, with its interval"), intervals, rtl=rtl
        )
        chart.headers = [_("Variant"), _("Difference"), _("Low"), _("High")]
        charts.append(chart)
    rows = [
        {"v": v, "decision": _decision_label(v.decision), "scale": scale} for v in result.variants
    ]
    return render_in_workspace(
        request,
        "analytics/experiments/detail.html",
        {
            "section": "analytics",
            "e": e,
            "metric": metric,
            "lever": LEVERS.get(e.lever),
            "result": result,
            "rows": rows,
            "charts": charts,
            "explanation": _explanation(e),
            "confidence": round(100 * (1 - result.alpha), 2),
            "can_admin": _is_admin(request, workspace),
        },
    )


@login_required
@require_POST
def experiment_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    workspace = _admin(request)
    try:
        with transaction.atomic():
            e = _get(workspace, pk)
            if action == "start":
                services.experiment_start(experiment=e)
            else:
                services.experiment_stop(experiment=e)
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("analytics:experiment_detail", pk=pk)
