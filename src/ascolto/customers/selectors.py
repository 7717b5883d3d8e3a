"""Customer 360 reads. Every selector takes the workspace and filters by it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.core.pagination import decode_cursor, encode_cursor
from ascolto.customers.models import (
    Activity,
    Consent,
    ConsentChange,
    ConsentChannel,
    Customer,
    CustomerMerge,
    Identity,
    Order,
    Organization,
)
from ascolto.customers.services.orders import NOT_SPENT

MAX_PAGE = 200


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def customer_get(*, workspace: Workspace, customer_id: int, follow_merge: bool = False) -> Customer:
    """The customer with this id in this workspace; NotFound for unknown or foreign ids."""
    customer = (
        Customer.objects.select_related("organization")
        .filter(workspace=workspace, pk=customer_id)
        .first()
    )
    if customer is None:
        raise NotFound(f"No customer #{customer_id} in this workspace.")
    if follow_merge and customer.merged_into_id is not None:
        return customer_get(workspace=workspace, customer_id=customer.merged_into_id)
    return customer


def customer_by_external_id(*, workspace: Workspace, external_id: str) -> Customer:
    customer = Customer.objects.filter(workspace=workspace, external_id=external_id).first()
    if customer is None:
        raise NotFound(f"No customer with external id {external_id!r} in this workspace.")
    return customer


def customer_list(
    *,
    workspace: Workspace,
    search: str = "",
    value_tier: str | None = None,
    organization_id: int | None = None,
    has_orders: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Customers newest first, keyset-paginated by id. Search matches name, external id and any
    identity (email, phone...)."""
    limit = max(1, min(limit, MAX_PAGE))
    qs = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    term = search.strip()
    if term:
        identity_match = Identity.objects.filter(
            workspace=workspace, value__icontains=term.lower()
        ).values("customer_id")
        qs = qs.filter(Q(name__icontains=term) | Q(external_id=term) | Q(pk__in=identity_match))
    if value_tier is not None:
        qs = qs.filter(value_tier=value_tier)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if has_orders is not None:
        qs = qs.filter(orders_count__gt=0) if has_orders else qs.filter(orders_count=0)
    if cursor:
        (last_id,) = decode_cursor(cursor, types=(int,))
        qs = qs.filter(pk__lt=last_id)
    rows = list(qs.select_related("organization").order_by("-pk")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)


def identities_of(*, customer: Customer) -> QuerySet[Identity]:
    return Identity.objects.filter(workspace_id=customer.workspace_id, customer=customer)


def organization_get(*, workspace: Workspace, organization_id: int) -> Organization:
    org = Organization.objects.filter(workspace=workspace, pk=organization_id).first()
    if org is None:
        raise NotFound(f"No organization #{organization_id} in this workspace.")
    return org


def organization_list(*, workspace: Workspace) -> QuerySet[Organization]:
    return Organization.objects.filter(workspace=workspace).order_by("name")


def order_get(*, workspace: Workspace, order_id: int) -> Order:
    order = (
        Order.objects.select_related("customer")
        .prefetch_related("lines")
        .filter(workspace=workspace, pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound(f"No order #{order_id} in this workspace.")
    return order


def order_list(
    *,
    workspace: Workspace,
    customer: Customer | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Orders newest first by placement time (keyset on placed_at, id)."""
    limit = max(1, min(limit, MAX_PAGE))
    qs = Order.objects.filter(workspace=workspace)
    if customer is not None:
        qs = qs.filter(customer=customer)
    if status:
        qs = qs.filter(status=status)
    if cursor:
        placed, last_id = decode_cursor(cursor, types=(dt.datetime, int))
        qs = qs.filter(Q(placed_at__lt=placed) | Q(placed_at=placed, pk__lt=last_id))
    rows = list(qs.prefetch_related("lines").order_by("-placed_at", "-pk")[: limit + 1])
    next_cursor = (
        encode_cursor(rows[limit - 1].placed_at, rows[limit - 1].pk) if len(rows) > limit else None
    )
    return Page(items=rows[:limit], next_cursor=next_cursor)


def customer_spend(*, customer: Customer) -> list[tuple[str, Decimal, int]]:
    """Lifetime spend per currency: (currency, amount, orders), largest first."""
    rows = (
        Order.objects.filter(customer=customer)
        .exclude(status__in=NOT_SPENT)
        .values("currency")
        .annotate(amount=Sum("total"), n=Count("id"))
        .order_by("-amount")
    )
    return [(r["currency"], r["amount"], r["n"]) for r in rows]


def consent_current(*, customer: Customer) -> list[Consent]:
    return list(
        Consent.objects.filter(workspace_id=customer.workspace_id, customer=customer).order_by(
            "purpose", "channel"
        )
    )


def consent_history(*, customer: Customer, limit: int = 100) -> list[ConsentChange]:
    return list(
        ConsentChange.objects.filter(
            workspace_id=customer.workspace_id, customer=customer
        ).order_by("-recorded_at", "-id")[:limit]
    )


def consent_allows(*, customer: Customer, purpose: str, channel: str) -> bool:
    """Whether the customer's current consent allows this purpose on this channel.

    A decision for the specific channel beats one for "any"; with no decision at all, only
    service messages are allowed (they answer what the customer asked for).
    """
    decisions = dict(
        Consent.objects.filter(
            customer=customer, purpose=purpose, channel__in=[channel, ConsentChannel.ANY]
        ).values_list("channel", "granted")
    )
    if channel in decisions:
        return bool(decisions[channel])
    if ConsentChannel.ANY in decisions:
        return bool(decisions[ConsentChannel.ANY])
    return purpose == "service"


def merges_of(*, customer: Customer) -> list[CustomerMerge]:
    return list(CustomerMerge.objects.filter(workspace_id=customer.workspace_id, primary=customer))


@dataclass
class TimelineEntry:
    kind: str
    occurred_at: dt.datetime
    title: str
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    source_type: str = ""
    source_id: str = ""
    key: str = ""

    @property
    def kind_label(self) -> str:
        labels = dict(Activity.Kind.choices)
        return str(labels.get(self.kind, self.kind))


ACTIVITY_COLUMNS = (
    "pk",
    "kind",
    "occurred_at",
    "title",
    "body",
    "data",
    "source_type",
    "source_id",
)
ORDER_COLUMNS = ("pk", "external_id", "placed_at", "total", "currency", "status")


def customer_timeline(*, customer: Customer, cursor: str | None = None, limit: int = 50) -> Page:
    """The customer's timeline, newest first: activity rows merged with orders placed.

    Keyset pagination on (occurred_at, source rank, id) across both sources: each source is read
    up to limit+1 rows past the cursor, the two are merged, and the page is cut. Rows are read
    as tuples, not model instances. When the activities fill the page and the newest order
    past the cursor is no newer than the page's last activity, the orders are not read at all.
    """
    limit = max(1, min(limit, MAX_PAGE))
    when: dt.datetime | None = None
    rank = 0
    last_id = 0
    if cursor:
        when, rank, last_id = decode_cursor(cursor, types=(dt.datetime, int, int))

    activities = Activity.objects.filter(workspace_id=customer.workspace_id, customer=customer)
    orders = Order.objects.filter(workspace_id=customer.workspace_id, customer=customer)
    # Rank breaks ties between sources at the same instant: activities (1) before orders (0).
    if when is not None:
        if rank == 1:
            activities = activities.filter(
                Q(occurred_at__lt=when) | Q(occurred_at=when, pk__lt=last_id)
            )
            orders = orders.filter(placed_at__lte=when)
        else:
            activities = activities.filter(occurred_at__lt=when)
            orders = orders.filter(Q(placed_at__lt=when) | Q(placed_at=when, pk__lt=last_id))
    merged: list[tuple[dt.datetime, int, int, TimelineEntry]] = [
        (
            occurred_at,
            1,
            pk,
            TimelineEntry(
                kind=kind,
                occurred_at=occurred_at,
                title=title,
                body=body,
                data=data,
                source_type=source_type,
                source_id=source_id,
                key=f"a{pk}",
            ),
        )
        for pk, kind, occurred_at, title, body, data, source_type, source_id in activities.order_by(
            "-occurred_at", "-pk"
        ).values_list(*ACTIVITY_COLUMNS)[: limit + 1]
    ]
    order_rows: list[tuple[Any, ...]] = []
    if len(merged) >= limit:
        # An order at the same instant as the page's last activity ranks after it (rank 0 < 1).
        newest = list(orders.order_by("-placed_at", "-pk").values_list("placed_at")[:1])
        if newest and newest[0][0] > merged[limit - 1][0]:
            order_rows = list(
                orders.order_by("-placed_at", "-pk").values_list(*ORDER_COLUMNS)[: limit + 1]
            )
        elif newest and len(merged) == limit:
            return Page(
                items=[row[3] for row in merged],
                next_cursor=encode_cursor(*merged[-1][:3]),
            )
    else:
        order_rows = list(
            orders.order_by("-placed_at", "-pk").values_list(*ORDER_COLUMNS)[: limit + 1]
        )
    for pk, external_id, placed_at, total, currency, status in order_rows:
        entry = TimelineEntry(
            kind=Activity.Kind.ORDER_PLACED,
            occurred_at=placed_at,
            title=f"Order {external_id}",
            body=f"{total} {currency}",
            data={
                "order_id": pk,
                "external_id": external_id,
                "status": status,
                "total": str(total),
                "currency": currency,
            },
            source_type="order",
            source_id=str(pk),
            key=f"o{pk}",
        )
        merged.append((placed_at, 0, pk, entry))
    merged.sort(key=lambda row: (row[0], row[1], row[2]), reverse=True)
    page = merged[:limit]
    next_cursor = None
    if len(merged) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last[0], last[1], last[2])
    return Page(items=[row[3] for row in page], next_cursor=next_cursor)
