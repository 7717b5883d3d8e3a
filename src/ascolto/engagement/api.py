"""Engagement REST operations: events in (API, bulk, signed webhooks), rules with dry-run,
message templates with preview. Thin: parse, authorize, call one service, serialise."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from ascolto.core.api import Id, JsonObject, Text, Timestamp, api_auth, require
from ascolto.core.errors import ValidationFailed
from ascolto.customers.services import OrderLineInput
from ascolto.engagement import guards, rule_updates, selectors, services
from ascolto.engagement.models import Event, Rule, Send

router = Router(auth=api_auth, tags=["engagement"])
MAX_BULK = 500


class CustomerRefIn(Schema):
    id: Id | None = None
    external_id: Text | None = Field(None, max_length=100)
    email: Text | None = Field(None, max_length=254)
    phone: Text | None = Field(None, max_length=40)
    name: Text = Field("", max_length=200)
    locale: Text = Field("", max_length=8)


class OrderLineIn(Schema):
    name: Text = Field(..., min_length=1, max_length=300)
    quantity: Decimal = Field(Decimal(1), gt=0, max_digits=12, decimal_places=3)
    unit_price: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)
    sku: Text = Field("", max_length=100)


class OrderRefIn(Schema):
    external_id: Text = Field(..., min_length=1, max_length=100)
    status: Text | None = None
    placed_at: Timestamp | None = None
    promised_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    total: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: Text | None = Field(None, min_length=3, max_length=3)
    lines: list[OrderLineIn] | None = Field(None, max_length=500)


class EventIn(Schema):
    external_id: Text = Field(..., min_length=1, max_length=200)
    type: Text
    customer: CustomerRefIn
    name: Text = Field("", max_length=100)
    occurred_at: Timestamp | None = None
    order: OrderRefIn | None = None
    payload: JsonObject = Field(default_factory=dict)


class EventsBulkIn(Schema):
    events: list[EventIn] = Field(..., min_length=1, max_length=MAX_BULK)


class EventOut(Schema):
    id: int
    external_id: str
    type: str
    customer_id: int
    order_id: int | None
    occurred_at: Any
    created: bool


class BulkEventsOut(Schema):
    results: list[EventOut]
    created: int
    repeated: int


class RuleIn(Schema):
    name: Text = Field(..., max_length=200)
    trigger: Text
    trigger_config: JsonObject = Field(
        default_factory=dict, description="Schedule or date settings (docs/engagement.md)."
    )
    conditions: JsonObject = Field(default_factory=dict)
    actions: list[JsonObject]
    purpose: Text = "service"
    is_active: bool = True
    holdout_percent: int = Field(0, ge=0, le=100)


class RuleOut(Schema):
    id: int
    name: str
    trigger: str
    trigger_config: dict[str, Any]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    purpose: str
    is_active: bool
    holdout_percent: int


class DryRunIn(Schema):
    event: EventIn | None = Field(None, description="A sample event.")
    customer_id: Id | None = Field(
        None, description="Or a customer, for a sample event of the rule's own trigger."
    )


class DryRunOut(Schema):
    matches: bool
    customer_id: int | None
    channel: str
    inbox_id: int | None
    subject: str
    text: str
    would_send: bool
    blocked: str
    deferred_until: Any
    other_actions: list[dict[str, Any]]
    whatsapp_template: dict[str, Any] | None = None


class TemplateIn(Schema):
    key: Text = Field(..., min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")
    language: Text = Field(..., min_length=2, max_length=8)
    channel: Text = "any"
    subject: Text = Field("", max_length=300)
    body: Text = Field(..., min_length=1)
    whatsapp: JsonObject = Field(
        default_factory=dict,
        description="The approved WhatsApp template to use outside the 24-hour window.",
    )


class TemplateOut(Schema):
    id: int
    key: str
    language: str
    channel: str
    subject: str
    body: str
    whatsapp: dict[str, Any]


class PreviewIn(Schema):
    customer_id: Id
    payload: JsonObject = Field(default_factory=dict)
    order_external_id: Text | None = None


class PreviewOut(Schema):
    language: str
    subject: str
    text: str
    html: str


class SendOut(Schema):
    id: int
    rule_id: int
    event_id: int
    customer_id: int
    status: str
    reason: str
    channel: str
    attempts: int
    last_error: str
    message_id: int | None
    conversation_id: int | None
    scheduled_for: Any
    sent_at: Any
    action_results: dict[str, Any]


def event_input(payload: EventIn, source: str = "api") -> services.EventInput:
    order = None
    if payload.order is not None:
        ref = payload.order
        order = services.OrderRef(
            external_id=ref.external_id,
            status=ref.status,
            placed_at=ref.placed_at,
            promised_at=ref.promised_at,
            delivered_at=ref.delivered_at,
            total=ref.total,
            currency=ref.currency,
            lines=None
            if ref.lines is None
            else [
                OrderLineInput(
                    name=line.name, quantity=line.quantity, unit_price=line.unit_price, sku=line.sku
                )
                for line in ref.lines
            ],
        )
    c = payload.customer
    return services.EventInput(
        external_id=payload.external_id,
        type=payload.type,
        name=payload.name,
        occurred_at=payload.occurred_at,
        customer=services.CustomerRef(
            id=c.id,
            external_id=c.external_id,
            email=str(c.email) if c.email else None,
            phone=c.phone,
            name=c.name,
            locale=c.locale,
        ),
        order=order,
        payload=payload.payload,
        source=source,
    )


def event_out(event: Event, created: bool) -> dict[str, Any]:
    return {
        "id": event.pk,
        "external_id": event.external_id,
        "type": event.type,
        "customer_id": event.customer_id,
        "order_id": event.order_id,
        "occurred_at": event.occurred_at,
        "created": created,
    }


@router.post("/engagement/events", response={200: EventOut, 201: EventOut})
def ingest_event(request: HttpRequest, payload: EventIn) -> Status[Any]:
    """Take in an external event; a repeat of its external_id answers 200 and changes nothing."""
    ctx = require(request, "write")
    with transaction.atomic():
        event, created = services.event_ingest(
            workspace=ctx.workspace, data=event_input(payload), actor=ctx.actor
        )
    return Status(201 if created else 200, event_out(event, created))


@router.post("/engagement/events/bulk", response=BulkEventsOut)
def ingest_events_bulk(request: HttpRequest, payload: EventsBulkIn) -> dict[str, Any]:
    """Take in up to 500 events in one transaction: all stored, or none when one is invalid."""
    ctx = require(request, "write")
    results = []
    with transaction.atomic():
        for item in payload.events:
            event, created = services.event_ingest(
                workspace=ctx.workspace, data=event_input(item), actor=ctx.actor
            )
            results.append(event_out(event, created))
    created_count = sum(1 for r in results if r["created"])
    return {"results": results, "created": created_count, "repeated": len(results) - created_count}


@router.post("/engagement/rules", response={201: RuleOut})
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[Any]:
    ctx = require(request, "admin")
    with transaction.atomic():
        rule = services.rule_create(
            workspace=ctx.workspace,
            actor=ctx.actor,
            name=payload.name,
            trigger=payload.trigger,
            conditions=payload.conditions,
            actions=payload.actions,
            purpose=payload.purpose,
            is_active=payload.is_active,
            trigger_settings=payload.trigger_config,
            holdout_percent=payload.holdout_percent,
        )
    return Status(201, rule)


@router.put("/engagement/rules/{int:rule_id}", response=RuleOut)
def update_rule(request: HttpRequest, rule_id: Id, payload: RuleIn) -> Rule:
    """Replace a rule's settings (the same body as creating it)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        rule = selectors.rule_get(workspace=ctx.workspace, rule_id=rule_id)
        return rule_updates.rule_update(
            rule=rule,
            actor=ctx.actor,
            name=payload.name,
            trigger=payload.trigger,
            conditions=payload.conditions,
            actions=payload.actions,
            purpose=payload.purpose,
            is_active=payload.is_active,
            trigger_settings=payload.trigger_config,
            holdout_percent=payload.holdout_percent,
        )


@router.get("/engagement/rules", response=list[RuleOut])
def list_rules(request: HttpRequest) -> list[Rule]:
    ctx = require(request, "read")
    return selectors.rules_list(workspace=ctx.workspace)


@router.post("/engagement/rules/{int:rule_id}/dry-run", response=DryRunOut)
def dry_run_rule(request: HttpRequest, rule_id: Id, payload: DryRunIn) -> dict[str, Any]:
    """What the rule would send to whom for this sample event, without sending or storing."""
    ctx = require(request, "read")
    rule = selectors.rule_get(workspace=ctx.workspace, rule_id=rule_id)
    if payload.event is not None:
        return selectors.dry_run(rule=rule, data=event_input(payload.event))
    if payload.customer_id is None:
        raise ValidationFailed(
            "Give a sample event or a customer.",
            field_errors={"event": ["Required without customer_id."]},
        )
    sample = services.EventInput(
        external_id="dry-run",
        type=rule.trigger,
        customer=services.CustomerRef(id=payload.customer_id),
    )
    return selectors.dry_run(rule=rule, data=sample)


@router.get("/engagement/rules/{int:rule_id}/sends", response=list[SendOut])
def list_rule_sends(request: HttpRequest, rule_id: Id) -> list[Send]:
    ctx = require(request, "read")
    rule = selectors.rule_get(workspace=ctx.workspace, rule_id=rule_id)
    return selectors.sends_of_rule(rule=rule)


@router.put("/engagement/templates", response=TemplateOut)
def save_template(request: HttpRequest, payload: TemplateIn) -> Any:
    ctx = require(request, "admin")
    with transaction.atomic():
        return services.template_upsert(
            workspace=ctx.workspace,
            actor=ctx.actor,
            key=payload.key,
            language=payload.language,
            channel=payload.channel,
            subject=payload.subject,
            body=payload.body,
            whatsapp_mapping=payload.whatsapp,
        )


@router.post("/engagement/templates/{int:template_id}/preview", response=PreviewOut)
def preview_template(request: HttpRequest, template_id: Id, payload: PreviewIn) -> Any:
    """The template rendered for a real customer (in their language and time zone)."""
    ctx = require(request, "read")
    return selectors.template_preview(
        workspace=ctx.workspace,
        template_id=template_id,
        customer_id=payload.customer_id,
        payload=payload.payload,
        order_external_id=payload.order_external_id,
    )


class SettingsOut(Schema):
    webhook_secret: str
    generic_webhook_path: str
    shopify_webhook_path: str
    quiet_start: Any
    quiet_end: Any
    cap_count: int
    cap_window_hours: int


@router.get("/engagement/settings", response=SettingsOut)
def engagement_settings(request: HttpRequest) -> dict[str, Any]:
    """The guard rails and the secret inbound webhooks are signed with (admins only)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        config = guards.settings_for(ctx.workspace.pk)
    base = f"/engagement/webhooks/{ctx.workspace.slug}"
    return {
        "webhook_secret": config.webhook_secret,
        "generic_webhook_path": f"{base}/generic",
        "shopify_webhook_path": f"{base}/shopify",
        "quiet_start": config.quiet_start,
        "quiet_end": config.quiet_end,
        "cap_count": config.cap_count,
        "cap_window_hours": config.cap_window_hours,
    }
