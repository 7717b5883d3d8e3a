"""Engagement reads, each scoped by workspace; the dry run writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer, Identity, Order
from ascolto.engagement import rules, services, templates_render
from ascolto.engagement.models import Event, EventType, MessageTemplate, Rule, Send


def rules_list(*, workspace: Workspace) -> list[Rule]:
    return list(Rule.objects.filter(workspace=workspace))


def rule_get(*, workspace: Workspace, rule_id: int) -> Rule:
    rule = Rule.objects.filter(workspace=workspace, pk=rule_id).first()
    if rule is None:
        raise NotFound("No such rule.")
    return rule


def sends_of_rule(*, rule: Rule, limit: int = 200) -> list[Send]:
    return list(Send.objects.filter(rule=rule).order_by("-id")[:limit])


def events_of_customer(*, workspace: Workspace, customer_id: int, limit: int = 50) -> list[Event]:
    return list(
        Event.objects.filter(workspace=workspace, customer_id=customer_id).order_by(
            "-occurred_at", "-id"
        )[:limit]
    )


def _existing_customer(workspace: Workspace, ref: services.CustomerRef) -> Customer:
    found: Customer | None = None
    if ref.id is not None:
        found = Customer.objects.filter(workspace=workspace, pk=ref.id).first()
    elif ref.external_id:
        found = Customer.objects.filter(workspace=workspace, external_id=ref.external_id).first()
    for kind, value in (("email", ref.email), ("phone", ref.phone)):
        if found is None and value:
            identity = (
                Identity.objects.filter(workspace=workspace, kind=kind, value__iexact=value)
                .select_related("customer")
                .first()
            )
            found = identity.customer if identity else None
    if found is None:
        raise ValidationFailed(
            "A dry run needs an existing customer.",
            field_errors={"event.customer": ["No such customer in this workspace."]},
        )
    return found


def dry_run(*, rule: Rule, data: services.EventInput) -> dict[str, Any]:
    """What `rule` would do for the sample event: whether it matches, to whom and on which
    channel it would send which text, or what blocks it. Nothing is stored or sent."""
    services.validate_event(data, internal=True)
    workspace = rule.workspace
    customer = _existing_customer(workspace, data.customer)
    order = None
    if data.order is not None:
        values = services.order_input_for(
            workspace, data.order, EventType(data.type), timezone.now()
        )
        stored = Order.objects.filter(workspace=workspace, external_id=values.external_id).first()
        # Unsaved: the order as it would be after the sample event.
        order = Order(
            pk=stored.pk if stored else None,
            workspace=workspace,
            customer=customer,
            external_id=values.external_id,
            status=values.status,
            placed_at=values.placed_at,
            promised_at=values.promised_at,
            delivered_at=values.delivered_at,
            total=values.total,
            currency=values.currency,
            metadata=values.metadata,
        )
    event = Event(
        workspace=workspace,
        external_id=data.external_id,
        type=data.type,
        name=data.name,
        customer=customer,
        order=order,
        payload=data.payload,
    )
    matches = (
        rule.is_active
        and rule.trigger == event.type
        and rules.compile_conditions(rule.conditions)(services.evaluation_context(event))
    )
    answer: dict[str, Any] = {
        "matches": matches,
        "customer_id": customer.pk,
        "channel": "",
        "inbox_id": None,
        "subject": "",
        "text": "",
        "would_send": False,
        "blocked": "",
        "deferred_until": None,
        "other_actions": [],
    }
    if not matches:
        return answer
    recipe = services.plan(rule, event)
    answer.update(
        channel=recipe.channel,
        inbox_id=recipe.inbox.pk if recipe.inbox else None,
        subject=recipe.subject,
        text=recipe.text,
        would_send=bool(recipe.text) and not recipe.blocked,
        blocked=recipe.blocked,
        deferred_until=recipe.defer_until,
        other_actions=recipe.other_actions,
        whatsapp_template=recipe.whatsapp_template.describe() if recipe.whatsapp_template else None,
    )
    return answer


def template_preview(
    *,
    workspace: Workspace,
    template_id: int,
    customer_id: int,
    payload: dict[str, Any],
    order_external_id: str | None = None,
) -> templates_render.Rendered:
    template = MessageTemplate.objects.filter(workspace=workspace, pk=template_id).first()
    customer = Customer.objects.filter(workspace=workspace, pk=customer_id).first()
    if template is None or customer is None:
        raise NotFound("No such template or customer.")
    order = None
    if order_external_id:
        order = Order.objects.filter(workspace=workspace, external_id=order_external_id).first()
    return templates_render.render(
        body=template.body,
        subject=template.subject,
        customer=customer,
        order=order,
        event_payload=payload,
    )


def rules_with_recent_sends(*, workspace: Workspace, days: int = 7) -> list[Rule]:
    """The rules, each with `recent` = {status: count} of its sends in the last `days` days
    (one query for the counts)."""
    found = rules_list(workspace=workspace)
    since = timezone.now() - dt.timedelta(days=days)
    counts: dict[int, dict[str, int]] = {}
    for rule_id, status, count in (
        Send.objects.filter(workspace=workspace, created_at__gte=since)
        .values_list("rule_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts.setdefault(rule_id, {})[status] = count
    for rule in found:
        rule.recent = counts.get(rule.pk, {})  # type: ignore[attr-defined]
    return found


def sends_list(
    *, workspace: Workspace, rule: Rule | None = None, status: str = "", limit: int = 200
) -> list[Send]:
    """The latest sends of the workspace (or of one rule), newest first."""
    query = Send.objects.filter(workspace=workspace).select_related("rule", "customer", "event")
    if rule is not None:
        query = query.filter(rule=rule)
    if status:
        query = query.filter(status=status)
    return list(query.order_by("-id")[:limit])


def templates_by_key(*, workspace: Workspace) -> list[tuple[str, list[MessageTemplate]]]:
    grouped: dict[str, list[MessageTemplate]] = {}
    for template in MessageTemplate.objects.filter(workspace=workspace).order_by(
        "key", "channel", "language"
    ):
        grouped.setdefault(template.key, []).append(template)
    return list(grouped.items())


def template_get(*, workspace: Workspace, template_id: int) -> MessageTemplate:
    template = MessageTemplate.objects.filter(workspace=workspace, pk=template_id).first()
    if template is None:
        raise NotFound("No such template.")
    return template


def customer_search(*, workspace: Workspace, query: str, limit: int = 10) -> list[Customer]:
    """Customers whose name or email/phone contains `query` (`#12` or `12`: that id)."""
    text = query.strip().lstrip("#")
    if not text:
        return []
    found = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    if text.isdigit():
        by_id = list(found.filter(pk=int(text))[:1])
        if by_id:
            return by_id
    return list(
        found.filter(Q(name__icontains=text) | Q(identities__value__icontains=text))
        .distinct()
        .order_by("name", "id")[:limit]
    )
