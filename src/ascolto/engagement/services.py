"""Engagement writes: taking events in, rules and templates, running rules, sending.

The caller owns the transaction (API operations and jobs wrap calls in `transaction.atomic`).
Proactive messages go through the inbox write path (`inbox.services.message_send`), so the
connectors deliver them and a customer's reply threads into the same conversation.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.customers.models import Activity, Consent, ConsentPurpose, Customer, Identity, Order
from ascolto.engagement import actions as extra_actions
from ascolto.engagement import (
    guards,
    holdout,
    outbound,
    rules,
    templates_render,
    trigger_config,
    whatsapp,
)
from ascolto.engagement.action_types import ACTIONS

# Re-exported: their homes are modules of their own; callers use services.*.
from ascolto.engagement.message_templates import template_for as template_for
from ascolto.engagement.message_templates import template_upsert as template_upsert
from ascolto.engagement.models import (
    EXTERNAL_EVENT_TYPES,
    Event,
    EventType,
    Rule,
    Send,
)
from ascolto.engagement.opt_out import is_stop_keyword as is_stop_keyword
from ascolto.engagement.opt_out import marketing_opt_out as marketing_opt_out
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Conversation, Inbox, Tag

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAYS = (dt.timedelta(minutes=1), dt.timedelta(minutes=10))
ACTION_TYPES = tuple(ACTIONS)
# The order status an event of each type moves the order to.
ORDER_STATUS_FOR = {
    EventType.ORDER_PLACED: Order.Status.PENDING,
    EventType.ORDER_SHIPPED: Order.Status.SHIPPED,
    EventType.ORDER_DELAYED: Order.Status.DELAYED,
    EventType.ORDER_DELIVERED: Order.Status.DELIVERED,
    EventType.ORDER_RETURNED: Order.Status.RETURNED,
}


# --- Events in ------------------------------------------------------------------------------


@dataclass
class CustomerRef:
    id: int | None = None
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str = ""
    locale: str = ""


@dataclass
class OrderRef:
    """The order an event names: by external id, with the fields the event changes. A new
    order needs placed_at (default: the event's time), total and currency."""

    external_id: str
    status: str | None = None
    placed_at: dt.datetime | None = None
    promised_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    total: Decimal | None = None
    currency: str | None = None
    lines: list[customer_services.OrderLineInput] | None = None


@dataclass
class EventInput:
    external_id: str
    type: str
    customer: CustomerRef
    occurred_at: dt.datetime | None = None
    name: str = ""
    order: OrderRef | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    source: str = "api"


def _customer_for(*, workspace: Workspace, ref: CustomerRef, actor: Actor) -> Customer:
    if ref.id is not None:
        customer = Customer.objects.filter(workspace=workspace, pk=ref.id).first()
        if customer is None:
            raise ValidationFailed(
                "No such customer in this workspace.", field_errors={"customer.id": ["Unknown."]}
            )
        return customer.merged_into or customer
    if ref.external_id:
        found = Customer.objects.filter(workspace=workspace, external_id=ref.external_id).first()
        if found is not None:
            return found.merged_into or found
    for kind, value in ((Identity.Kind.EMAIL, ref.email), (Identity.Kind.PHONE, ref.phone)):
        if value:
            customer, _ = customer_services.customer_get_or_create_by_identity(
                workspace=workspace,
                kind=kind,
                value=value,
                actor=actor,
                name=ref.name,
                locale=ref.locale,
            )
            return customer.merged_into or customer
    if ref.external_id:
        return customer_services.customer_create(
            workspace=workspace,
            actor=actor,
            name=ref.name,
            locale=ref.locale,
            external_id=ref.external_id,
        )
    raise ValidationFailed(
        "Name the customer by id, external id, email or phone.",
        field_errors={"customer": ["Give id, external_id, email or phone."]},
    )


def validate_event(data: EventInput, *, internal: bool = False) -> None:
    """Raise ValidationFailed naming the fields. Only Ascolto records `internal` types
    (schedule, conversation.resolved, ...); a dry run may sample them."""
    errors: dict[str, list[str]] = {}
    if not data.external_id or len(data.external_id) > 200:
        errors["external_id"] = ["Required, at most 200 characters."]
    types = EventType.values if internal else EXTERNAL_EVENT_TYPES
    if data.type not in types:
        errors["type"] = [f"Choose one of: {', '.join(types)}."]
    if data.occurred_at is not None and data.occurred_at.tzinfo is None:
        errors["occurred_at"] = ["A date and time with a time zone (ISO 8601)."]
    if not isinstance(data.payload, dict):
        errors["payload"] = ["Expected an object."]
    if errors:
        raise ValidationFailed("The event is not valid.", field_errors=errors)


def order_input_for(
    workspace: Workspace, ref: OrderRef, event_type: EventType, when: dt.datetime
) -> customer_services.OrderInput:
    existing = Order.objects.filter(workspace=workspace, external_id=ref.external_id).first()
    status = ref.status or ORDER_STATUS_FOR.get(event_type)
    if existing is None:
        if ref.total is None or not ref.currency:
            raise ValidationFailed(
                "A new order needs its total and currency.",
                field_errors={"order.total": ["Required for a new order."]},
            )
        return customer_services.OrderInput(
            external_id=ref.external_id,
            placed_at=ref.placed_at or when,
            total=ref.total,
            currency=ref.currency,
            status=status or Order.Status.PENDING,
            promised_at=ref.promised_at,
            delivered_at=ref.delivered_at,
            lines=ref.lines,
        )
    return customer_services.OrderInput(
        external_id=existing.external_id,
        placed_at=ref.placed_at or existing.placed_at,
        total=existing.total if ref.total is None else ref.total,
        currency=ref.currency or existing.currency,
        status=status or existing.status,
        promised_at=ref.promised_at or existing.promised_at,
        delivered_at=ref.delivered_at or existing.delivered_at,
        metadata=existing.metadata,
        lines=ref.lines,
    )


def event_ingest(*, workspace: Workspace, data: EventInput, actor: Actor) -> tuple[Event, bool]:
    """Store an external event once per (workspace, external id); returns (event, created).

    A repeat returns the stored event and writes nothing. A new event updates the order it names
    (upsert by external id, with the status the event implies), goes on the customer's timeline,
    and is emitted as `engagement.event.received` for the rules.
    """
    validate_event(data)
    existing = Event.objects.filter(workspace=workspace, external_id=data.external_id).first()
    if existing is not None:
        return existing, False
    ref = data.customer
    named = ref.id is not None or ref.external_id or ref.email or ref.phone
    known_order = (
        Order.objects.filter(workspace=workspace, external_id=data.order.external_id)
        .select_related("customer")
        .first()
        if data.order is not None and not named
        else None
    )
    # An event about a known order (a fulfilment) may leave the customer out.
    customer = (
        known_order.customer
        if known_order is not None
        else _customer_for(workspace=workspace, ref=ref, actor=actor)
    )
    when = data.occurred_at or timezone.now()
    order = None
    if data.order is not None:
        order, _ = customer_services.order_upsert(
            workspace=workspace,
            customer=customer,
            data=order_input_for(workspace, data.order, EventType(data.type), when),
            actor=actor,
        )
    try:
        with transaction.atomic():
            event = Event.objects.create(
                workspace=workspace,
                external_id=data.external_id,
                type=data.type,
                name=data.name[:100],
                customer=customer,
                order=order,
                payload=data.payload,
                occurred_at=when,
                source=data.source,
            )
    except IntegrityError:
        # A concurrent delivery of the same event won the race.
        return Event.objects.get(workspace=workspace, external_id=data.external_id), False
    label = data.name or EventType(data.type).label
    customer_services.activity_record(
        customer=customer,
        kind=Activity.Kind.EXTERNAL_EVENT,
        title=f"{label}: {order.external_id}" if order else str(label),
        data={"event_id": event.pk, "type": event.type, "payload": data.payload},
        actor=actor,
        occurred_at=when,
        source_type="engagement.event",
        source_id=str(event.pk),
    )
    outbox.emit(
        workspace=workspace,
        name="engagement.event.received",
        payload={"event_id": event.pk, "type": event.type, "customer_id": customer.pk},
    )
    return event, True


# --- Rules and templates --------------------------------------------------------------------


def _validate_actions(actions: Any) -> list[dict[str, Any]]:
    if not isinstance(actions, list) or not actions:
        raise ValidationFailed(
            "A rule needs at least one action.", field_errors={"actions": ["A non-empty list."]}
        )
    errors: dict[str, list[str]] = {}
    for i, action in enumerate(actions):
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in ACTION_TYPES:
            errors[f"actions.{i}.type"] = [f"Choose one of: {', '.join(ACTION_TYPES)}."]
        elif kind == "send_message" and not isinstance(action.get("template"), str):
            errors[f"actions.{i}.template"] = ["The key of a message template."]
        elif kind == "add_tag" and not (isinstance(action.get("tag"), str) and action["tag"]):
            errors[f"actions.{i}.tag"] = ["A tag name."]
        elif kind == "set_attribute" and not isinstance(action.get("key"), str):
            errors[f"actions.{i}.key"] = ["An attribute key."]
        elif kind in extra_actions.EXTRA_ACTION_TYPES:
            errors.update(extra_actions.validate_action(kind, action, f"actions.{i}"))
    if errors:
        raise ValidationFailed("The rule's actions are not valid.", field_errors=errors)
    return list(actions)


def rule_fields_checked(
    *,
    workspace: Workspace,
    name: str,
    trigger: str,
    actions: list[dict[str, Any]],
    conditions: dict[str, Any] | None,
    purpose: str,
    trigger_settings: dict[str, Any] | None,
) -> dict[str, Any]:
    """A rule's fields, checked and normalised; ValidationFailed names the first mistakes."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Required."]
    if trigger not in EventType.values:
        errors["trigger"] = [f"Choose one of: {', '.join(EventType.values)}."]
    if purpose not in (ConsentPurpose.SERVICE, ConsentPurpose.MARKETING):
        errors["purpose"] = ["service or marketing."]
    if errors:
        raise ValidationFailed("The rule is not valid.", field_errors=errors)
    config = trigger_config.validate_trigger_config(trigger, trigger_settings)
    rules.compile_conditions(conditions or {})
    checked = _validate_actions(actions)
    extra_actions.check_references(workspace=workspace, actions=checked)
    return {
        "name": name.strip()[:200],
        "trigger": trigger,
        "trigger_config": config,
        "conditions": conditions or {},
        "actions": checked,
        "purpose": purpose,
    }


def rule_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    trigger: str,
    actions: list[dict[str, Any]],
    conditions: dict[str, Any] | None = None,
    purpose: str = ConsentPurpose.SERVICE,
    is_active: bool = True,
    trigger_settings: dict[str, Any] | None = None,
    holdout_percent: int = 0,
) -> Rule:
    holdout_check(holdout_percent)
    fields = rule_fields_checked(
        workspace=workspace,
        name=name,
        trigger=trigger,
        actions=actions,
        conditions=conditions,
        purpose=purpose,
        trigger_settings=trigger_settings,
    )
    rule = Rule.objects.create(
        workspace=workspace,
        is_active=is_active,
        owner=actor.user,
        holdout_percent=holdout_percent,
        **fields,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="engagement.rule.create",
        object_type="engagement.rule",
        object_id=rule.pk,
        changes={"name": rule.name, "trigger": trigger},
    )
    return rule


def holdout_check(holdout_percent: int) -> None:
    if not 0 <= holdout_percent <= 100:
        raise ValidationFailed(
            "The rule is not valid.", field_errors={"holdout_percent": ["From 0 to 100."]}
        )


def rule_set_active(*, rule: Rule, actor: Actor, is_active: bool) -> Rule:
    rule.is_active = is_active
    rule.save(update_fields=["is_active", "updated_at"])
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="engagement.rule.activate" if is_active else "engagement.rule.deactivate",
        object_type="engagement.rule",
        object_id=rule.pk,
        changes={"is_active": is_active},
    )
    return rule


# --- Running rules --------------------------------------------------------------------------


def evaluation_context(
    event: Event, consent_rows: list[tuple[str, bool]] | None = None
) -> dict[str, Any]:
    """What conditions see. `consent_rows` (purpose, granted) saves the query in batches."""
    customer = event.customer
    order = event.order
    if consent_rows is None:
        consent_rows = list(customer.consents.values_list("purpose", "granted"))
    consents: dict[str, bool] = {}
    for purpose, granted in consent_rows:
        consents[purpose] = consents.get(purpose, False) or granted
    last_order_at = customer.last_order_at
    return {
        "customer": {
            "days_since_last_order": None
            if last_order_at is None
            else (timezone.now() - last_order_at).days,
            "name": customer.name,
            "locale": customer.locale,
            "timezone": customer.timezone,
            "value_tier": customer.value_tier,
            "orders_count": customer.orders_count,
            "lifetime_spend": customer.lifetime_spend,
            "attributes": customer.attributes or {},
        },
        "event": {"type": event.type, "name": event.name, "payload": event.payload},
        "order": {}
        if order is None
        else {
            "status": order.status,
            "total": order.total,
            "currency": order.currency,
            "external_id": order.external_id,
            "metadata": order.metadata or {},
        },
        "consent": consents,
    }


# Compiled conditions by rule, keyed by the rule's last change: compiling is the slow part.
_compiled: dict[tuple[int, dt.datetime], rules.Predicate] = {}


def predicate_of(rule: Rule) -> rules.Predicate:
    key = (rule.pk, rule.updated_at)
    found = _compiled.get(key)
    if found is None:
        if len(_compiled) > 10_000:
            _compiled.clear()
        found = _compiled[key] = rules.compile_conditions(rule.conditions)
    return found


def matching_rules_batch(events: list[Event]) -> dict[int, list[Rule]]:
    """The matching rules of many events of one workspace in two queries: the active rules
    and the customers' consents. Events need customer and order loaded."""
    if not events:
        return {}
    workspace_ids = {e.workspace_id for e in events}
    by_trigger: dict[str, list[tuple[Rule, rules.Predicate]]] = {}
    for rule in Rule.objects.filter(workspace_id__in=workspace_ids, is_active=True):
        by_trigger.setdefault(rule.trigger, []).append((rule, predicate_of(rule)))
    consents: dict[int, list[tuple[str, bool]]] = {}
    for customer_id, purpose, granted in Consent.objects.filter(
        customer_id__in={e.customer_id for e in events}
    ).values_list("customer_id", "purpose", "granted"):
        consents.setdefault(customer_id, []).append((purpose, granted))
    matched: dict[int, list[Rule]] = {}
    for event in events:
        context = evaluation_context(event, consents.get(event.customer_id, []))
        matched[event.pk] = [
            rule
            for rule, predicate in by_trigger.get(event.type, [])
            if rule.workspace_id == event.workspace_id and predicate(context)
        ]
    return matched


def matching_rules(event: Event) -> list[Rule]:
    active = Rule.objects.filter(
        workspace_id=event.workspace_id, trigger=event.type, is_active=True
    )
    context = evaluation_context(event)
    return [rule for rule in active if predicate_of(rule)(context)]


def preferred_inbox(customer: Customer) -> Inbox | None:
    """The inbox of the customer's preferred channel: the `preferred_channel` attribute, else
    the channel of their latest conversation, else email when they have an address."""
    inboxes = Inbox.objects.filter(workspace_id=customer.workspace_id, is_active=True)
    wanted = (customer.attributes or {}).get("preferred_channel")
    if isinstance(wanted, str) and wanted in Channel.values:
        found = inboxes.filter(channel=wanted).order_by("id").first()
        if found is not None:
            return found
    latest = (
        Conversation.objects.filter(customer=customer, inbox__is_active=True)
        .select_related("inbox")
        .order_by("-last_message_at", "-id")
        .first()
    )
    if latest is not None:
        return latest.inbox
    if customer.identities.filter(kind=Identity.Kind.EMAIL).exists():
        return inboxes.filter(channel=Channel.EMAIL).order_by("id").first()
    return None


@dataclass
class Plan:
    """What one rule would do for one event: the dry run's answer and the send's recipe."""

    rule: Rule
    customer: Customer
    inbox: Inbox | None
    channel: str
    subject: str = ""
    text: str = ""
    html: str = ""
    blocked: str = ""
    defer_until: dt.datetime | None = None
    other_actions: list[dict[str, Any]] = field(default_factory=list)
    whatsapp_template: whatsapp.Choice | None = None


def plan(rule: Rule, event: Event, *, at: dt.datetime | None = None) -> Plan:
    """Decide what a rule does for an event, writing nothing."""
    customer = event.customer
    inbox = preferred_inbox(customer)
    result = Plan(rule=rule, customer=customer, inbox=inbox, channel=inbox.channel if inbox else "")
    sends = [a for a in rule.actions if a.get("type") == "send_message"]
    result.other_actions = [a for a in rule.actions if a.get("type") != "send_message"]
    if not sends:
        return result
    if inbox is None:
        result.blocked = "No channel to reach the customer."
        return result
    language = templates_render.customer_language(customer)
    try:
        template = template_for(
            workspace_id=rule.workspace_id,
            key=sends[0]["template"],
            channel=inbox.channel,
            language=language,
        )
    except NotFound as exc:
        result.blocked = str(exc)
        return result
    rendered = templates_render.render(
        body=template.body,
        subject=template.subject,
        customer=customer,
        order=event.order,
        event_payload=event.payload,
    )
    result.subject, result.text, result.html = rendered.subject, rendered.text, rendered.html
    result.whatsapp_template = whatsapp.choose(
        template=template,
        inbox=inbox,
        customer=customer,
        order=event.order,
        payload=event.payload,
    )
    if result.whatsapp_template is not None and result.whatsapp_template.error:
        result.blocked = result.whatsapp_template.error
        return result
    if not guards.consent_allows(customer=customer, purpose=rule.purpose, channel=inbox.channel):
        result.blocked = f"No {rule.purpose} consent on {inbox.channel}."
        return result
    config = guards.settings_for(rule.workspace_id)
    if guards.over_cap(customer=customer, config=config, at=at):
        result.blocked = "Frequency cap reached."
        return result
    result.defer_until = guards.quiet_until(customer=customer, config=config, at=at)
    return result


def event_process(*, event: Event, actor: Actor) -> list[Send]:
    """Run every matching rule once for the event. A rule that already ran for it (a
    re-delivered event, a retried handler) is skipped: the (rule, event) constraint holds."""
    sends = []
    for rule in matching_rules(event):
        send = rule_run(rule=rule, event=event, actor=actor)
        if send is not None:
            sends.append(send)
    return sends


def rule_run(*, rule: Rule, event: Event, actor: Actor) -> Send | None:
    """Run one rule for one event, once: None when it already ran for the event. A customer in
    the rule's hold-out group gets a skipped Send and nothing else: the comparison group."""
    held_out = holdout.is_held_out(
        kind="rule",
        owner_id=rule.pk,
        customer_id=event.customer_id,
        percent=rule.holdout_percent,
    )
    try:
        with transaction.atomic():
            send = Send.objects.create(
                workspace_id=event.workspace_id,
                rule=rule,
                event=event,
                customer=event.customer,
                scheduled_for=timezone.now(),
                **(
                    {"status": Send.Status.SKIPPED, "reason": holdout.HELD_OUT_REASON}
                    if held_out
                    else {}
                ),
            )
    except IntegrityError:
        return None
    if held_out:
        return send
    _apply_other_actions(rule=rule, event=event, actor=actor)
    extra_actions.apply(send=send, actor=actor)
    send_attempt(send=send, actor=actor)
    return send


def _apply_other_actions(*, rule: Rule, event: Event, actor: Actor) -> None:
    for action in rule.actions:
        if action["type"] == "set_attribute":
            customer_services.customer_update(
                customer=event.customer,
                actor=actor,
                attributes={action["key"]: action.get("value")},
            )


def send_attempt(*, send: Send, actor: Actor, at: dt.datetime | None = None) -> Send:
    """Try to send now: skipped (with the reason) when a guard says no, rescheduled to the end
    of quiet hours, sent, or after MAX_ATTEMPTS failures `failed` with the error."""
    now = at or timezone.now()
    rule, event = send.rule, send.event
    recipe = plan(rule, event, at=now)
    send.channel = recipe.channel
    if not any(a.get("type") == "send_message" for a in rule.actions):
        _finish(send, Send.Status.SENT, now)
        return send
    if recipe.blocked:
        send.status, send.reason = Send.Status.SKIPPED, recipe.blocked[:300]
        send.save()
        return send
    if recipe.defer_until is not None:
        send.status, send.scheduled_for = Send.Status.SCHEDULED, recipe.defer_until
        send.reason = "Quiet hours."
        send.save()
        return send
    assert recipe.inbox is not None
    send.attempts += 1
    try:
        with transaction.atomic():
            message = _deliver(send=send, recipe=recipe, actor=actor)
    except Exception as exc:  # a failure of one send must not lose the others
        logger.exception("Engagement send %s failed", send.pk)
        send.last_error = repr(exc)[:2000]
        if send.attempts >= MAX_ATTEMPTS:
            send.status, send.reason = Send.Status.FAILED, "Failed after retries."
        else:
            send.scheduled_for = now + RETRY_DELAYS[min(send.attempts, len(RETRY_DELAYS)) - 1]
        send.save()
        return send
    send.message_id, send.conversation_id = message.pk, message.conversation_id
    send.text = recipe.text
    _finish(send, Send.Status.SENT, now)
    return send


def _finish(send: Send, status: str, now: dt.datetime) -> None:
    send.status, send.sent_at, send.reason = status, now, ""
    send.save()


def _deliver(*, send: Send, recipe: Plan, actor: Actor) -> Any:
    assert recipe.inbox is not None
    owner = send.rule.owner
    if owner is None:
        raise ValidationFailed("The rule has no owner to send in the name of.")
    conversation = outbound.conversation_for_outbound(
        inbox=recipe.inbox, customer=send.customer, subject=recipe.subject or send.rule.name
    )
    approved = recipe.whatsapp_template
    if approved is not None and approved.template is not None:
        message = whatsapp.send(
            conversation=conversation, choice=approved, author=owner, actor=actor
        )
        recipe.text = message.text
    else:
        message = inbox_services.message_send(
            conversation=conversation,
            author=owner,
            actor=actor,
            text=recipe.text,
            html=recipe.html if recipe.inbox.channel == Channel.EMAIL else "",
            kind="bot",
        )
    message.metadata = {
        **(message.metadata or {}),
        "engagement": {"rule_id": send.rule_id, "event_id": send.event_id, "send_id": send.pk},
    }
    message.save(update_fields=["metadata", "updated_at"])
    for action in recipe.other_actions:
        if action["type"] == "add_tag":
            tag, _ = Tag.objects.get_or_create(workspace_id=send.workspace_id, name=action["tag"])
            conversation.tags.add(tag)
    customer_services.activity_record(
        customer=send.customer,
        kind=Activity.Kind.MESSAGE,
        title=f"Proactive message: {send.rule.name}",
        body=recipe.text[:500],
        data={
            "conversation_id": conversation.pk,
            "message_id": message.pk,
            "rule_id": send.rule_id,
        },
        source_type="engagement.send",
        source_id=str(send.pk),
    )
    return message


def sends_due(*, actor: Actor, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Attempt the scheduled sends whose time has come (after quiet hours, retries)."""
    now = now or timezone.now()
    ids = list(
        Send.objects.filter(
            status=Send.Status.SCHEDULED, scheduled_for__lte=now, attempts__lt=MAX_ATTEMPTS
        )
        .order_by("scheduled_for", "id")
        .values_list("id", flat=True)[:limit]
    )
    for send_id in ids:
        with transaction.atomic():
            send = Send.objects.select_for_update().select_related("rule", "event").get(pk=send_id)
            if send.status == Send.Status.SCHEDULED:
                send_attempt(send=send, actor=actor, at=now)
    return len(ids)
