"""Analytics REST operations: the dashboard figures and the conversation and customer exports.

Filters are the dashboards' (`dashboards.filters`); bad filters are a 400 problem document that
names each bad field.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from ascolto.accounts.models import User
from ascolto.analytics import export, targets
from ascolto.analytics.dashboards.filters import DashboardFilters, parse_filters
from ascolto.analytics.dashboards.metrics import CATALOGUE, delta, metric_values
from ascolto.analytics.enps.api import router as enps_router
from ascolto.analytics.journey.api import router as journey_router
from ascolto.analytics.models import MetricTarget
from ascolto.core.api import api_auth, require
from ascolto.core.errors import DomainError, NotFound, ValidationFailed
from ascolto.core.models import Workspace

router = Router(auth=api_auth)
router.add_router("", journey_router)
router.add_router("", enps_router)
ANALYTICS = "analytics"
EXPORT_FORMATS = ("csv", "parquet")
PARQUET_TYPE = "application/vnd.apache.parquet"


class FilterParams(Schema):
    from_: str = Field("", alias="from", description="First day, YYYY-MM-DD (workspace time zone)")
    to: str = Field("", description="Last day, inclusive, YYYY-MM-DD")
    channel: str = ""
    team: str = ""
    agent: str = ""
    language: str = ""
    tier: str = ""


class MetricOut(Schema):
    key: str
    label: str
    unit: str
    higher_is_better: bool
    value: float | None
    previous: float | None
    delta: float | None


class PeriodOut(Schema):
    first_day: str
    last_day: str


class MetricsOut(Schema):
    period: PeriodOut
    previous_period: PeriodOut
    metrics: list[MetricOut]


class BadFilters(DomainError):
    code = "invalid_filters"


def _parse(workspace: Workspace, params: FilterParams) -> DashboardFilters:
    raw = params.model_dump(by_alias=True)
    try:
        return parse_filters(raw, workspace=workspace)
    except ValidationFailed as exc:
        raise BadFilters(exc.message, field_errors=exc.field_errors) from None


def _period(filters: DashboardFilters) -> dict[str, str]:
    return {
        "first_day": filters.period.first_day.isoformat(),
        "last_day": filters.period.last_day.isoformat(),
    }


@router.get("/analytics/metrics", response=MetricsOut, tags=[ANALYTICS])
def get_analytics_metrics(request: HttpRequest, params: Query[FilterParams]) -> dict[str, Any]:
    """Every dashboard metric for the period and the filters, with the previous period of the
    same length and the change. Definitions: docs/metrics.md."""
    ctx = require(request, "read")
    filters = _parse(ctx.workspace, params)
    now = timezone.now()
    current = metric_values(workspace=ctx.workspace, filters=filters, now=now)
    previous = metric_values(workspace=ctx.workspace, filters=filters.previous(), now=now)
    return {
        "period": _period(filters),
        "previous_period": _period(filters.previous()),
        "metrics": [
            {
                "key": d.key,
                "label": str(d.label),
                "unit": d.unit,
                "higher_is_better": d.higher_is_better,
                "value": current.get(d.key),
                "previous": previous.get(d.key),
                "delta": delta(current.get(d.key), previous.get(d.key)),
            }
            for d in CATALOGUE.values()
        ],
    }


def _csv(lines: Any, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/analytics/export/conversations.csv", response={200: None}, tags=[ANALYTICS])
def export_analytics_conversations(
    request: HttpRequest, params: Query[FilterParams]
) -> StreamingHttpResponse:
    """One CSV row per conversation started in the period: every timestamp and metric."""
    ctx = require(request, "read")
    filters = _parse(ctx.workspace, params)
    rows = export.conversation_rows(workspace=ctx.workspace, filters=filters, now=timezone.now())
    return _csv(export.csv_lines(export.CONVERSATION_COLUMNS, rows), "conversations.csv")


@router.get("/analytics/export/customers.csv", response={200: None}, tags=[ANALYTICS])
def export_analytics_customers(
    request: HttpRequest, params: Query[FilterParams]
) -> StreamingHttpResponse:
    """One CSV row per customer, with conversations and revenue in the period."""
    ctx = require(request, "read")
    filters = _parse(ctx.workspace, params)
    rows = export.customer_rows(workspace=ctx.workspace, filters=filters)
    return _csv(export.csv_lines(export.CUSTOMER_COLUMNS, rows), "customers.csv")


class ExportParams(FilterParams):
    format: str = Field("csv", description="csv (streamed) or parquet")


class BadExportFormat(DomainError):
    code = "invalid_format"


def _export(kind: str, workspace: Workspace, params: ExportParams) -> HttpResponseBase:
    """The UI's export of `kind` (conversations or customers) in the format asked for."""
    if params.format not in EXPORT_FORMATS:
        message = _("The format is csv or parquet.")
        raise BadExportFormat(message, field_errors={"format": [message]})
    filters = _parse(workspace, params)
    if kind == "conversations":
        columns = export.CONVERSATION_COLUMNS
        rows = export.conversation_rows(workspace=workspace, filters=filters, now=timezone.now())
    else:
        columns = export.CUSTOMER_COLUMNS
        rows = export.customer_rows(workspace=workspace, filters=filters)
    if params.format == "csv":
        return _csv(export.csv_lines(columns, rows), f"{kind}.csv")
    response = HttpResponse(export.parquet_bytes(columns, rows), content_type=PARQUET_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{kind}.parquet"'
    return response


@router.get("/analytics/export/conversations", response={200: None}, tags=[ANALYTICS])
def export_conversations(request: HttpRequest, params: Query[ExportParams]) -> HttpResponseBase:
    """One row per conversation started in the period, as CSV (streamed) or Parquet: the
    columns of the staff export, with the same filters."""
    ctx = require(request, "read")
    return _export("conversations", ctx.workspace, params)


@router.get("/analytics/export/customers", response={200: None}, tags=[ANALYTICS])
def export_customers(request: HttpRequest, params: Query[ExportParams]) -> HttpResponseBase:
    """One row per customer with conversations and revenue in the period, as CSV (streamed) or
    Parquet, with the staff export's filters."""
    ctx = require(request, "read")
    return _export("customers", ctx.workspace, params)


class TargetIn(Schema):
    owner_id: int = Field(gt=0)
    target: float = Field(allow_inf_nan=False)
    direction: str = Field(description="higher or lower: which way is better")


class TargetOut(Schema):
    metric: str
    owner_id: int
    target: float
    direction: str


@router.get("/analytics/targets", response=list[TargetOut], tags=[ANALYTICS])
def list_analytics_targets(request: HttpRequest) -> list[MetricTarget]:
    """Every metric target of the workspace, with its owner."""
    ctx = require(request, "read")
    return list(MetricTarget.objects.filter(workspace=ctx.workspace).order_by("metric"))


@router.put("/analytics/targets/{metric}", response=TargetOut, tags=[ANALYTICS])
def set_analytics_target(request: HttpRequest, metric: str, payload: TargetIn) -> MetricTarget:
    """Set a metric's owner and target (admins). Off-target metrics alert their owner in the
    app and appear in the owner's weekly digest."""
    ctx = require(request, "admin")
    owner = User.objects.filter(pk=payload.owner_id).first()
    if owner is None:
        raise NotFound("No such user in this workspace.")
    with transaction.atomic():
        return targets.target_set(
            workspace=ctx.workspace,
            metric=metric,
            owner=owner,
            target=payload.target,
            direction=payload.direction,
        )
