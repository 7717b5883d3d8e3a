"""Dashboards, drill-downs, alerts and CSV exports for signed-in members of the workspace.

Views parse the filters (a 400 saying what is wrong on bad input), call one dashboard selector
and render. Every read is scoped by the current workspace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ascolto.accounts.models import Membership, Team, User
from ascolto.analytics import export, targets
from ascolto.analytics.dashboards import drill, operations, overview, team, value, voice
from ascolto.analytics.dashboards.common import Dashboard
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters, parse_filters
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, render_in_workspace
from ascolto.customers.models import ValueTier
from ascolto.inbox.models import Channel

Builder = Callable[..., Dashboard]
DASHBOARDS: dict[str, Builder] = {
    "overview": overview.build,
    "operations": operations.build,
    "voice": voice.build,
    "value": value.build,
    "team": team.build,
}


def filters_or_400(request: HttpRequest, workspace: Workspace) -> DashboardFilters | HttpResponse:
    try:
        return parse_filters(request.GET, workspace=workspace)
    except ValidationFailed as exc:
        return bad_request(request, exc.message)


def _filter_choices(workspace: Workspace) -> dict[str, Any]:
    tier_labels = dict(ValueTier.choices)
    return {
        "channels": Channel.choices,
        "teams": Team.objects.filter(workspace=workspace).order_by("name"),
        "agents": [
            m.user
            for m in Membership.objects.filter(workspace=workspace)
            .select_related("user")
            .order_by("user__username")
        ],
        "tiers": [(key, tier_labels[value]) for key, value in TIERS.items()],
    }


def _context(workspace: Workspace, filters: DashboardFilters, **extra: Any) -> dict[str, Any]:
    return {
        "section": "analytics",
        "filters": filters,
        "query": filters.query(),
        "nav": [(key, key) for key in DASHBOARDS],
        **_filter_choices(workspace),
        **extra,
    }


@login_required
@require_GET
def dashboard(request: HttpRequest, key: str) -> HttpResponse:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    board = DASHBOARDS[key](
        workspace=workspace, filters=filters, now=timezone.now(), rtl=get_language_bidi()
    )
    user = cast(User, request.user)
    return render_in_workspace(
        request,
        "analytics/dashboard.html",
        _context(
            workspace,
            filters,
            board=board,
            alerts=list(targets.unread_alerts(workspace=workspace, user=user)),
        ),
    )


@login_required
@require_GET
def drill_conversations(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    try:
        label, count, rows = drill.drill_conversations(
            workspace=workspace,
            filters=filters,
            name=request.GET.get("subset", "all"),
            now=timezone.now(),
        )
    except ValidationFailed as exc:
        return bad_request(request, exc.message)
    return render_in_workspace(
        request,
        "analytics/drill_conversations.html",
        _context(workspace, filters, label=label, count=count, rows=rows, limit=drill.DRILL_LIMIT),
    )


@login_required
@require_GET
def drill_customers(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    try:
        label, count, rows = drill.drill_customers(
            workspace=workspace, filters=filters, name=request.GET.get("subset", "")
        )
    except ValidationFailed as exc:
        return bad_request(request, exc.message)
    return render_in_workspace(
        request,
        "analytics/drill_customers.html",
        _context(workspace, filters, label=label, count=count, rows=rows, limit=drill.DRILL_LIMIT),
    )


@login_required
@require_POST
def alert_read(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        with transaction.atomic():
            targets.alert_mark_read(workspace=workspace, user=cast(User, request.user), alert_id=pk)
    except NotFound:
        raise Http404(_("No such alert.")) from None
    return redirect("analytics:overview")


def _stream(lines: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def export_conversations_csv(request: HttpRequest) -> HttpResponseBase:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    rows = export.conversation_rows(workspace=workspace, filters=filters, now=timezone.now())
    return _stream(export.csv_lines(export.CONVERSATION_COLUMNS, rows), "conversations.csv")


@login_required
@require_GET
def export_customers_csv(request: HttpRequest) -> HttpResponseBase:
    workspace = current_workspace(request)
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    rows = export.customer_rows(workspace=workspace, filters=filters)
    return _stream(export.csv_lines(export.CUSTOMER_COLUMNS, rows), "customers.csv")


@login_required
@require_GET
def export_parquet(request: HttpRequest, kind: str) -> HttpResponse:
    """The same rows as the CSV exports as one Parquet file; needs the optional pyarrow."""
    workspace = current_workspace(request)
    if not export.parquet_available():
        return bad_request(
            request, _("Parquet export needs the optional pyarrow package; use CSV instead.")
        )
    filters = filters_or_400(request, workspace)
    if isinstance(filters, HttpResponse):
        return filters
    if kind == "conversations":
        data = export.parquet_bytes(
            export.CONVERSATION_COLUMNS,
            export.conversation_rows(workspace=workspace, filters=filters, now=timezone.now()),
        )
    else:
        data = export.parquet_bytes(
            export.CUSTOMER_COLUMNS, export.customer_rows(workspace=workspace, filters=filters)
        )
    response = HttpResponse(data, content_type="application/vnd.apache.parquet")
    response["Content-Disposition"] = f'attachment; filename="{kind}.parquet"'
    return response
