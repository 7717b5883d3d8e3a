"""GET /analytics/journey: the journey's stage figures and ranked pain points for a period,
and GET /analytics/journey/drill: the customers and conversations behind a stage or a cause.
Mounted on the analytics router; filters as the dashboards' (bad ones are a 400 problem)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ascolto.analytics.dashboards.filters import DashboardFilters, parse_filters
from ascolto.analytics.journey import snapshots
from ascolto.core.api import api_auth, require
from ascolto.core.errors import DomainError, ValidationFailed
from ascolto.core.models import Workspace

router = Router(auth=api_auth)
TAGS = ["analytics"]


class JourneyParams(Schema):
    from_: str = Field("", alias="from", description="First day, YYYY-MM-DD (workspace time zone)")
    to: str = Field("", description="Last day, inclusive, YYYY-MM-DD")
    tier: str = Field("", description="Value tier of the customers (or unranked)")


class DrillParams(JourneyParams):
    stage: str = Field("", description="discover, buy, deliver, use or support")
    cause: str = Field("", description="A pain point key, e.g. tag:late or order:late_delivery")


class StageOut(Schema):
    stage: str
    label: str
    interactions: int
    customers: int
    negative: int
    negative_share: float | None
    nps_touched: float | None
    nps_not_touched: float | None
    nps_effect: float | None
    churn_touched: float | None
    churn_not_touched: float | None
    churn_effect: float | None


class PainPointOut(Schema):
    key: str
    kind: str
    name: str
    label: str
    interactions: int
    customers: int
    unhappy: int
    unhappy_share: float
    baseline_share: float | None
    impact: float | None
    score: float | None
    nps_effect: float | None


class PeriodOut(Schema):
    first_day: str
    last_day: str


class JourneyOut(Schema):
    period: PeriodOut
    computed_at: str | None = Field(
        None, description="When the stored snapshot was computed; null when computed now"
    )
    customers: int
    unhappy: int
    stages: list[StageOut]
    pain_points: list[PainPointOut]


class PendingOut(Schema):
    period: PeriodOut
    status: str = Field(description="computing: ask again in a few seconds")


class DrillOut(Schema):
    label: str
    customer_count: int
    conversation_count: int
    unhappy_count: int = Field(description="Unhappy customers among all of customer_count")
    customer_ids: list[int] = Field(description="The first 200, unhappy first, then by id")
    unhappy_customer_ids: list[int] = Field(description="The unhappy ones among customer_ids")
    conversation_ids: list[int] = Field(description="The newest 200")


class BadJourneyQuery(DomainError):
    code = "invalid_filters"


def _parse(workspace: Workspace, params: JourneyParams) -> DashboardFilters:
    try:
        return parse_filters(params.model_dump(by_alias=True), workspace=workspace)
    except ValidationFailed as exc:
        raise BadJourneyQuery(exc.message, field_errors=exc.field_errors) from None


@router.get("/analytics/journey", response={200: JourneyOut, 202: PendingOut}, tags=TAGS)
def get_analytics_journey(request: HttpRequest, params: Query[JourneyParams]) -> Status[Any]:
    """Touches per journey stage with volume, negative share and effect on NPS and churn risk,
    and every cause ranked as a pain point (score = customers x impact). docs/metrics.md.
    Read from a snapshot at most an hour old when there is one; a large workspace without one
    gets 202 `computing` while a worker computes it."""
    ctx = require(request, "read")
    filters = _parse(ctx.workspace, params)
    read = snapshots.journey_for_page(workspace=ctx.workspace, filters=filters)
    period = {
        "first_day": filters.period.first_day.isoformat(),
        "last_day": filters.period.last_day.isoformat(),
    }
    journey = read.journey
    if journey is None:
        return Status(202, {"period": period, "status": "computing"})
    return Status(
        200,
        {
            "period": period,
            "computed_at": read.computed_at.isoformat() if read.computed_at else None,
            "customers": journey.customers,
            "unhappy": journey.unhappy,
            "stages": journey.stages,
            "pain_points": journey.pain_points,
        },
    )


@router.get("/analytics/journey/drill", response=DrillOut, tags=TAGS)
def get_analytics_journey_drill(request: HttpRequest, params: Query[DrillParams]) -> dict[str, Any]:
    """The customers (unhappy first) and conversations behind one stage or one cause, at most
    200 of each, with the counts of all of them. Give exactly one of `stage` and `cause`. Read
    from the journey's snapshot when there is a fresh one."""
    ctx = require(request, "read")
    filters = _parse(ctx.workspace, params)
    try:
        drill = snapshots.drill_for_page(
            workspace=ctx.workspace,
            filters=filters,
            stage=params.stage,
            cause=params.cause,
            rows=False,
        )
    except ValidationFailed as exc:
        raise BadJourneyQuery(exc.message, field_errors=exc.field_errors) from None
    return {
        "label": drill.label,
        "customer_count": drill.customer_count,
        "conversation_count": drill.conversation_count,
        "unhappy_count": drill.unhappy_count,
        "customer_ids": list(drill.customer_ids),
        "unhappy_customer_ids": sorted(drill.unhappy),
        "conversation_ids": list(drill.conversation_ids),
    }
