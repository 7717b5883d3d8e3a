"""The metric targets page at /analytics/targets/ (admins): each dashboard metric with its
owner, target value and direction, set or removed one metric at a time."""

from __future__ import annotations

import math
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from ascolto.accounts.models import Membership, User
from ascolto.accounts.selectors import has_permission
from ascolto.analytics import targets
from ascolto.analytics.dashboards.figures import format_value
from ascolto.analytics.dashboards.metrics import CATALOGUE
from ascolto.analytics.models import MetricTarget
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, render_in_workspace


def _admin(request: HttpRequest) -> Workspace:
    workspace = current_workspace(request)
    user = cast(User, request.user)
    if not has_permission(user=user, workspace=workspace, permission="admin"):
        raise PermissionDenied(_("Only workspace owners and admins can set metric targets."))
    return workspace


def _save(request: HttpRequest, workspace: Workspace) -> dict[str, list[str]]:
    """Apply the posted row; the field errors of a refused one."""
    metric = request.POST.get("metric", "")
    if request.POST.get("remove"):
        targets.target_remove(workspace=workspace, metric=metric)
        return {}
    errors: dict[str, list[str]] = {}
    try:
        value = float(request.POST.get("target", "").replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors["target"] = [_("Enter a number.")]
    owner_id = request.POST.get("owner", "")
    owner = User.objects.filter(pk=int(owner_id)).first() if owner_id.isdigit() else None
    if owner is None:
        errors["owner"] = [_("Choose an owner.")]
    if errors or owner is None:
        return errors
    try:
        targets.target_set(
            workspace=workspace,
            metric=metric,
            owner=owner,
            target=value,
            direction=request.POST.get("direction", ""),
        )
    except ValidationFailed as exc:
        return exc.field_errors or {"metric": [exc.message]}
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def target_edit(request: HttpRequest) -> HttpResponse:
    workspace = _admin(request)
    errors: dict[str, list[str]] = {}
    posted = ""
    if request.method == "POST":
        posted = request.POST.get("metric", "")
        with transaction.atomic():
            errors = _save(request, workspace)
        if not errors:
            messages.success(request, _("Metric target saved."))
            return redirect("analytics:targets")
    current = {t.metric: t for t in MetricTarget.objects.filter(workspace=workspace)}
    statuses = {
        s.target.metric: s for s in targets.target_statuses(workspace=workspace, now=timezone.now())
    }
    rows: list[dict[str, Any]] = []
    for d in CATALOGUE.values():
        status = statuses.get(d.key)
        rows.append(
            {
                "metric": d,
                "target": current.get(d.key),
                "value": format_value(status.value, d.unit) if status else "",
                "off": bool(status and status.off_target),
                "errors": errors if d.key == posted else {},
            }
        )
    members = [
        m.user
        for m in Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__username")
    ]
    return render_in_workspace(
        request,
        "analytics/targets.html",
        {
            "section": "analytics",
            "rows": rows,
            "members": members,
            "directions": MetricTarget.Direction.choices,
            "judged_days": targets.JUDGED_DAYS,
            "errors": errors,
        },
        status=422 if errors else 200,
    )
