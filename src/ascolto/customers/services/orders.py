"""Writes for orders: upsert by external id, so re-sending an order updates it, never duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Activity, Customer, Order, OrderLine
from ascolto.customers.services.customers import activity_record

# Orders in these states do not count towards what a customer has spent.
NOT_SPENT = (Order.Status.CANCELLED, Order.Status.REFUNDED, Order.Status.RETURNED)


@dataclass
class OrderLineInput:
    name: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""


@dataclass
class OrderInput:
    external_id: str
    placed_at: dt.datetime
    total: Decimal
    currency: str
    status: str = Order.Status.PENDING
    delivered_at: dt.datetime | None = None
    promised_at: dt.datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    lines: list[OrderLineInput] | None = None


def validate_order_input(data: OrderInput) -> None:
    errors: dict[str, list[str]] = {}
    if not data.external_id or len(data.external_id) > 100:
        errors["external_id"] = ["Required, at most 100 characters."]
    if data.status not in Order.Status.values:
        errors["status"] = [f"Choose one of: {', '.join(Order.Status.values)}."]
    if len(data.currency) != 3 or not data.currency.isalpha():
        errors["currency"] = ["Use a three-letter ISO 4217 code such as EUR."]
    try:
        total = Decimal(data.total)
        if not total.is_finite() or total < 0 or total >= Decimal("1e10"):
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        errors["total"] = ["A non-negative amount below 10,000,000,000."]
    for when_name in ("placed_at", "delivered_at", "promised_at"):
        when = getattr(data, when_name)
        if when is not None and (not isinstance(when, dt.datetime) or when.tzinfo is None):
            errors[when_name] = ["A date and time with a time zone (ISO 8601)."]
    for i, line in enumerate(data.lines or []):
        if not line.name:
            errors[f"lines.{i}.name"] = ["Required."]
        if line.quantity <= 0:
            errors[f"lines.{i}.quantity"] = ["Must be positive."]
        if line.unit_price < 0:
            errors[f"lines.{i}.unit_price"] = ["Must not be negative."]
    if errors:
        raise ValidationFailed("The order is not valid.", field_errors=errors)


def order_upsert(
    *, workspace: Workspace, customer: Customer, data: OrderInput, actor: Actor
) -> tuple[Order, bool]:
    """Create the order or update the one with the same external id. Returns (order, created).

    Lines, when given, replace the order's lines. Records a timeline entry when the order is
    new or its status changed, and an outbox event either way.
    """
    validate_order_input(data)
    if customer.workspace_id != workspace.pk:
        raise ValidationFailed("The customer belongs to another workspace.")
    order = Order.objects.filter(workspace=workspace, external_id=data.external_id).first()
    created = order is None
    previous_status = None if order is None else order.status
    values = {
        "customer": customer,
        "status": data.status,
        "placed_at": data.placed_at,
        "delivered_at": data.delivered_at,
        "promised_at": data.promised_at,
        "total": Decimal(data.total).quantize(Decimal("0.01")),
        "currency": data.currency.upper(),
        "metadata": data.metadata,
    }
    if order is None:
        order = Order.objects.create(workspace=workspace, external_id=data.external_id, **values)
    else:
        moved_from = order.customer_id if order.customer_id != customer.pk else None
        for key, value in values.items():
            setattr(order, key, value)
        order.save()
        if moved_from is not None:
            customer_refresh_stats(customer_ids=[moved_from])
    if data.lines is not None:
        order.lines.all().delete()
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in data.lines
        )
    customer_refresh_stats(customer_ids=[customer.pk])
    if not created and previous_status != order.status:
        activity_record(
            customer=customer,
            kind=Activity.Kind.ORDER_UPDATED,
            title=f"Order {order.external_id}: {previous_status} → {order.status}",
            data={"order_id": order.pk, "from": previous_status, "to": order.status},
            actor=actor,
            source_type="order",
            source_id=str(order.pk),
        )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="order.create" if created else "order.update",
        object_type="order",
        object_id=order.pk,
        customer_id=customer.pk,
        changes={
            "external_id": order.external_id,
            "status": order.status,
            "total": str(order.total),
            "currency": order.currency,
        },
    )
    outbox.emit(
        workspace=workspace,
        name="customers.order.created" if created else "customers.order.updated",
        payload={
            "order_id": order.pk,
            "customer_id": customer.pk,
            "status": order.status,
            "previous_status": previous_status,
        },
    )
    return order, created


def customer_refresh_stats(*, customer_ids: list[int]) -> None:
    """Recompute lifetime spend, order count and last order time from the orders themselves.

    Spend counts orders in the workspace's default currency that were not cancelled, refunded
    or returned.
    """
    for customer in Customer.objects.filter(pk__in=customer_ids).select_related("workspace"):
        stats = Order.objects.filter(customer=customer).aggregate(
            spend=Coalesce(
                Sum(
                    "total",
                    filter=Q(currency=customer.workspace.default_currency)
                    & ~Q(status__in=NOT_SPENT),
                ),
                Decimal("0"),
            ),
            count=Count("id"),
            last=Max("placed_at"),
        )
        Customer.objects.filter(pk=customer.pk).update(
            lifetime_spend=stats["spend"], orders_count=stats["count"], last_order_at=stats["last"]
        )
