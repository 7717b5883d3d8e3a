"""Assistant REST operations: automation and deflection figures, triage rules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ascolto.assistant import selectors, services
from ascolto.assistant.models import TriageRule
from ascolto.core.api import api_auth, require
from ascolto.core.errors import ValidationFailed

router = Router(auth=api_auth)
TAG = "assistant"
DEFAULT_PERIOD = dt.timedelta(days=30)


class PeriodParams(Schema):
    start: dt.datetime | None = Field(None, description="Start (ISO 8601); default: 30 days ago")
    end: dt.datetime | None = Field(None, description="End, exclusive (ISO 8601); default: now")


class AutomationOut(Schema):
    conversations: int
    automated: int
    automation_rate: float | None
    confirmed: int
    handed_off: int
    handoffs_by_reason: dict[str, int]


class DeflectionCountsOut(Schema):
    offers: int
    confirmed: int
    assumed: int
    pending: int
    followed_by_conversation: int


class DeflectionOut(DeflectionCountsOut):
    by_source: dict[str, DeflectionCountsOut]


class AssistantMetricsOut(Schema):
    start: dt.datetime
    end: dt.datetime
    automation: AutomationOut
    deflection: DeflectionOut


class TriageRuleIn(Schema):
    intent: Annotated[str, Field(min_length=1, max_length=100)]
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    add_tags: list[Annotated[str, Field(max_length=60)]] = []
    team_id: int | None = None
    priority: Annotated[int, Field(ge=0, le=3)] | None = None


class TriageRuleOut(Schema):
    id: int
    intent: str
    min_confidence: float
    add_tags: list[str]
    team_id: int | None
    priority: int | None


def _period(params: PeriodParams) -> tuple[dt.datetime, dt.datetime]:
    end = params.end or timezone.now()
    start = params.start or end - DEFAULT_PERIOD
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationFailed(
            "Give start and end with a time zone (for example 2026-11-01T00:00:00Z).",
            field_errors={"start": ["Needs a time zone."]},
        )
    if end <= start:
        raise ValidationFailed(
            "The end must come after the start.", field_errors={"end": ["Before the start."]}
        )
    return start, end


@router.get("/assistant/metrics", response=AssistantMetricsOut, tags=[TAG])
def get_assistant_metrics(request: HttpRequest, params: Query[PeriodParams]) -> dict[str, Any]:
    """Automation (bot conversations started in the period) and deflection (offers made in
    it); definitions in docs/assistant.md."""
    ctx = require(request, "read")
    start, end = _period(params)
    automation = selectors.assistant_metrics(workspace=ctx.workspace, start=start, end=end)
    deflection = selectors.deflection_report(workspace=ctx.workspace, start=start, end=end)
    return {
        "start": start,
        "end": end,
        "automation": {
            "conversations": automation.conversations,
            "automated": automation.automated,
            "automation_rate": automation.automation_rate,
            "confirmed": automation.confirmed,
            "handed_off": automation.handed_off,
            "handoffs_by_reason": automation.handoffs_by_reason,
        },
        "deflection": deflection,
    }


@router.get("/assistant/triage-rules", response=list[TriageRuleOut], tags=[TAG])
def list_triage_rules(request: HttpRequest) -> list[TriageRule]:
    ctx = require(request, "read")
    return selectors.triage_rules(workspace=ctx.workspace)


@router.put("/assistant/triage-rules", response=TriageRuleOut, tags=[TAG])
def put_triage_rule(request: HttpRequest, payload: TriageRuleIn) -> TriageRule:
    """Create or replace the rule for an intent (admins only)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        return services.triage_rule_save(
            workspace=ctx.workspace,
            intent=payload.intent,
            min_confidence=payload.min_confidence,
            add_tags=payload.add_tags,
            team_id=payload.team_id,
            priority=payload.priority,
        )
