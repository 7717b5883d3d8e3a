"""Campaign and engagement-metrics REST operations. Thin: parse, authorize, call one service,
serialise. Writes need the admin permission, as rules do; a wrong state answers 409."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ascolto.core.api import Id, JsonObject, Text, Timestamp, api_auth, require
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.engagement import campaigns, metrics, selectors, tasks
from ascolto.engagement.models import Campaign

router = Router(auth=api_auth, tags=["engagement"])


class CampaignIn(Schema):
    name: Text = Field(..., min_length=1, max_length=200)
    template_key: Text = Field(..., min_length=1, max_length=60)
    purpose: Text = "marketing"
    channel: Text = "preferred"
    audience: JsonObject = Field(default_factory=dict)
    holdout_percent: int = Field(0, ge=0, le=50)
    throttle_per_minute: int = Field(0, ge=0, le=1_000_000)
    conversion_window_days: int = Field(7, ge=1, le=90)


class CampaignOut(Schema):
    id: int
    name: str
    template_key: str
    purpose: str
    channel: str
    audience: dict[str, Any]
    holdout_percent: int
    throttle_per_minute: int
    conversion_window_days: int
    status: str
    scheduled_for: Any
    targeted_count: int
    held_out_count: int
    sent_count: int
    skipped_count: int
    failed_count: int
    percent: int
    job_id: int | None
    created_at: Any
    started_at: Any
    finished_at: Any


class AudienceIn(Schema):
    audience: JsonObject = Field(default_factory=dict)


class AudienceCustomerOut(Schema):
    id: int
    name: str
    locale: str
    value_tier: str


class AudienceOut(Schema):
    count: int
    sample: list[AudienceCustomerOut]


class StartIn(Schema):
    at: Timestamp | None = None


class ReportOut(Schema):
    campaign_id: int
    status: str
    targeted: int
    held_out: int
    pending: int
    skipped: int
    failed: int
    sent: int
    delivered: int
    read: int
    delivery_failed: int
    replied: int
    converted: int
    conversion_window_days: int
    conversion_rate: float | None
    holdout_converted: int
    holdout_conversion_rate: float | None
    uplift: float | None


class RuleMetricsOut(Schema):
    rule_id: int
    holdout_percent: int
    window_days: int
    sent: int
    delivered: int
    read: int
    delivery_failed: int
    replied: int
    converted: int
    skipped: int
    failed: int
    held_out: int
    conversion_rate: float | None
    holdout_converted: int
    holdout_conversion_rate: float | None
    uplift: float | None
    contacts: int
    contact_rate: float | None
    holdout_contacts: int
    holdout_contact_rate: float | None
    contact_rate_difference: float | None


class RuleMetricsQuery(Schema):
    days: int = Field(7, ge=1, le=90)


def campaign_get(*, workspace: Workspace, campaign_id: int) -> Campaign:
    found = Campaign.objects.filter(workspace=workspace, pk=campaign_id).first()
    if found is None:
        raise NotFound("No such campaign.")
    return found


def enqueue(campaign: Campaign, job_id: int) -> None:
    campaign_id = campaign.pk
    if campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_for is not None:
        eta = campaign.scheduled_for
        transaction.on_commit(lambda: tasks.run_campaign.schedule((campaign_id, job_id), eta=eta))
    else:
        transaction.on_commit(lambda: tasks.run_campaign(campaign_id, job_id))


@router.post("/engagement/campaigns", response={201: CampaignOut})
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status[Any]:
    ctx = require(request, "admin")
    with transaction.atomic():
        campaign = campaigns.campaign_create(
            workspace=ctx.workspace,
            actor=ctx.actor,
            name=payload.name,
            template_key=payload.template_key,
            audience=payload.audience,
            purpose=payload.purpose,
            channel=payload.channel,
            holdout_percent=payload.holdout_percent,
            throttle_per_minute=payload.throttle_per_minute,
            conversion_window_days=payload.conversion_window_days,
        )
    return Status(201, campaign)


@router.get("/engagement/campaigns", response=list[CampaignOut])
def list_campaigns(request: HttpRequest) -> Any:
    ctx = require(request, "read")
    return Campaign.objects.filter(workspace=ctx.workspace).order_by("-created_at", "-id")[:200]


@router.get("/engagement/campaigns/{int:campaign_id}", response=CampaignOut)
def get_campaign(request: HttpRequest, campaign_id: Id) -> Campaign:
    ctx = require(request, "read")
    return campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)


@router.post("/engagement/campaigns/audience-preview", response=AudienceOut)
def preview_audience(request: HttpRequest, payload: AudienceIn) -> Any:
    """How many customers the audience selects now, and a sample of them."""
    ctx = require(request, "read")
    return campaigns.audience_preview(workspace=ctx.workspace, audience=payload.audience)


@router.post("/engagement/campaigns/{int:campaign_id}/start", response=CampaignOut)
def start_campaign(request: HttpRequest, campaign_id: Id, payload: StartIn) -> Campaign:
    """Start a draft now, or at `at`; a campaign already started answers 409."""
    ctx = require(request, "admin")
    with transaction.atomic():
        campaign = campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)
        job = campaigns.campaign_start(campaign=campaign, actor=ctx.actor, at=payload.at)
        campaign.refresh_from_db()
        enqueue(campaign, job.pk)
    campaign.refresh_from_db()
    return campaign


@router.post("/engagement/campaigns/{int:campaign_id}/pause", response=CampaignOut)
def pause_campaign(request: HttpRequest, campaign_id: Id) -> Campaign:
    ctx = require(request, "admin")
    with transaction.atomic():
        campaign = campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)
        return campaigns.campaign_pause(campaign=campaign, actor=ctx.actor)


@router.post("/engagement/campaigns/{int:campaign_id}/resume", response=CampaignOut)
def resume_campaign(request: HttpRequest, campaign_id: Id) -> Campaign:
    ctx = require(request, "admin")
    with transaction.atomic():
        campaign = campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)
        job = campaigns.campaign_resume(campaign=campaign, actor=ctx.actor)
        campaign.refresh_from_db()
        enqueue(campaign, job.pk)
    campaign.refresh_from_db()
    return campaign


@router.post("/engagement/campaigns/{int:campaign_id}/cancel", response=CampaignOut)
def cancel_campaign(request: HttpRequest, campaign_id: Id) -> Campaign:
    ctx = require(request, "admin")
    with transaction.atomic():
        campaign = campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)
        return campaigns.campaign_cancel(campaign=campaign, actor=ctx.actor)


@router.get("/engagement/campaigns/{int:campaign_id}/report", response=ReportOut)
def campaign_report(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    ctx = require(request, "read")
    campaign = campaign_get(workspace=ctx.workspace, campaign_id=campaign_id)
    return metrics.campaign_report(campaign=campaign)


@router.get("/engagement/rules/{int:rule_id}/metrics", response=RuleMetricsOut)
def rule_metrics(
    request: HttpRequest, rule_id: Id, query: Query[RuleMetricsQuery]
) -> dict[str, Any]:
    """Sent, delivered, replied, conversions and contacts within `days` of the event, for the
    treated customers and the rule's hold-out group."""
    ctx = require(request, "read")
    rule = selectors.rule_get(workspace=ctx.workspace, rule_id=rule_id)
    return metrics.rule_metrics(rule=rule, days=query.days)
