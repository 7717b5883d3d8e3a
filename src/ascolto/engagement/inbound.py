"""Signed inbound webhooks: the generic format and Shopify-style order webhooks.

Both are signed with HMAC-SHA256 of the raw body under the workspace's engagement secret:
the generic format in `X-Ascolto-Signature: sha256=<hex>`, Shopify's in
`X-Shopify-Hmac-Sha256: <base64>` with the topic in `X-Shopify-Topic`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Any

from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import Order
from ascolto.customers.services import OrderLineInput
from ascolto.engagement.models import EventType
from ascolto.engagement.services import CustomerRef, EventInput, OrderRef

SIGNATURE_HEADER = "X-Ascolto-Signature"
SHOPIFY_SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
SHOPIFY_TOPIC_HEADER = "X-Shopify-Topic"
SHOPIFY_ID_HEADER = "X-Shopify-Webhook-Id"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_shopify(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(secret: str, body: bytes, header: str) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())


def verify_shopify(secret: str, body: bytes, header: str) -> bool:
    return bool(header) and hmac.compare_digest(sign_shopify(secret, body), header.strip())


def _when(value: Any, path: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationFailed(
            "The webhook is not valid.", field_errors={path: ["ISO 8601 with a time zone."]}
        )
    return parsed


def _money(value: Any, path: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(
            "The webhook is not valid.", field_errors={path: ["An amount."]}
        ) from exc


SHOPIFY_TOPICS = {
    "orders/create": EventType.ORDER_PLACED,
    "orders/updated": None,  # the status decides
    "orders/cancelled": EventType.CUSTOM,
    "fulfillments/create": EventType.ORDER_SHIPPED,
    "fulfillments/update": EventType.ORDER_SHIPPED,
}


def shopify_event(topic: str, webhook_id: str, body: Any) -> EventInput:
    """Map a Shopify order or fulfillment webhook to an event. Raises ValidationFailed."""
    if topic not in SHOPIFY_TOPICS:
        raise ValidationFailed(
            "Unsupported Shopify topic.",
            field_errors={SHOPIFY_TOPIC_HEADER: [f"One of: {', '.join(SHOPIFY_TOPICS)}."]},
        )
    if not isinstance(body, dict):
        raise ValidationFailed("The webhook is not valid.", field_errors={"": ["An object."]})
    order_body = body
    event_type = SHOPIFY_TOPICS[topic]
    if topic.startswith("fulfillments/"):
        order_body = {"id": body.get("order_id"), **(body.get("order") or {})}
        if body.get("shipment_status") == "delivered":
            event_type = EventType.ORDER_DELIVERED
        elif body.get("shipment_status") in ("failure", "delayed"):
            event_type = EventType.ORDER_DELAYED
    order_id = order_body.get("id")
    if order_id in (None, ""):
        raise ValidationFailed("The webhook is not valid.", field_errors={"id": ["Required."]})
    if event_type is None:
        fulfillment = order_body.get("fulfillment_status")
        event_type = EventType.ORDER_SHIPPED if fulfillment == "fulfilled" else EventType.CUSTOM
    customer = order_body.get("customer") or {}
    if not isinstance(customer, dict):
        customer = {}
    email = order_body.get("email") or customer.get("email")
    phone = order_body.get("phone") or customer.get("phone")
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
    order = None
    if "total_price" in order_body:
        lines = [
            OrderLineInput(
                name=str(item.get("title") or item.get("name") or "item"),
                quantity=_money(item.get("quantity", 1), "line_items.quantity"),
                unit_price=_money(item.get("price", 0), "line_items.price"),
                sku=str(item.get("sku") or ""),
            )
            for item in order_body.get("line_items") or []
            if isinstance(item, dict)
        ]
        paid = order_body.get("financial_status") == "paid"
        order = OrderRef(
            external_id=f"shopify-{order_id}",
            placed_at=_when(order_body.get("created_at"), "created_at"),
            total=_money(order_body["total_price"], "total_price"),
            currency=str(order_body.get("currency") or "EUR"),
            status=Order.Status.PAID if paid else None,
            lines=lines or None,
        )
    else:
        order = OrderRef(external_id=f"shopify-{order_id}")
    delivery_key = webhook_id or f"{topic}-{order_id}-{body.get('updated_at')}"
    return EventInput(
        external_id=f"shopify-{delivery_key}",
        type=event_type,
        name=topic,
        customer=CustomerRef(
            external_id=f"shopify-{customer['id']}" if customer.get("id") else None,
            email=email,
            phone=phone,
            name=name,
            locale=str(customer.get("locale") or "")[:2],
        ),
        order=order,
        payload={"topic": topic, "order_id": str(order_id)},
        source="shopify",
    )
