"""Purchase lines as arrays: one query over order lines, items keyed by SKU or normalised name.

Cancelled, refunded and returned orders do not count as purchases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from ascolto.core.models import Workspace
from ascolto.customers.models import Customer, Order, OrderLine
from ascolto.recommendations.scoring import IntArray

NOT_PURCHASES = (Order.Status.CANCELLED, Order.Status.REFUNDED, Order.Status.RETURNED)
CHUNK = 5_000


def item_key(sku: str, name: str) -> str:
    """The identity of an item: its SKU, else its name case-folded with spaces collapsed."""
    sku = sku.strip()
    if sku:
        return f"sku:{sku}"
    return "name:" + " ".join(name.casefold().split())


@dataclass
class Catalogue:
    """The items seen, by index: key, display name (the latest seen) and SKU."""

    keys: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, name: str) -> int:
        key = item_key(sku, name)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.keys)
            self.keys.append(key)
            self.names.append(name.strip())
            self.skus.append(sku.strip())
        elif name.strip():
            self.names[found] = name.strip()
        return found


@dataclass
class PurchaseLines:
    """Parallel arrays, one entry per order line, and the items they name."""

    order: IntArray
    customer: IntArray
    item: IntArray
    day: IntArray  # proleptic ordinal of the order's UTC date
    catalogue: Catalogue


def purchase_lines(
    *, workspace: Workspace, customer: Customer | None = None, since: dt.datetime | None = None
) -> PurchaseLines:
    """The workspace's purchase lines (or one customer's), oldest order first."""
    lines = OrderLine.objects.filter(order__workspace=workspace).exclude(
        order__status__in=NOT_PURCHASES
    )
    if customer is not None:
        lines = lines.filter(order__customer=customer)
    if since is not None:
        lines = lines.filter(order__placed_at__gte=since)
    rows = lines.order_by("order__placed_at", "order_id", "id").values_list(
        "order_id", "order__customer_id", "sku", "name", "order__placed_at"
    )
    catalogue = Catalogue()
    orders: list[int] = []
    customers: list[int] = []
    items: list[int] = []
    days: list[int] = []
    for order_id, customer_id, sku, name, placed_at in rows.iterator(chunk_size=CHUNK):
        orders.append(order_id)
        customers.append(customer_id)
        items.append(catalogue.add(sku, name))
        days.append(placed_at.astimezone(dt.UTC).date().toordinal())
    return PurchaseLines(
        order=np.asarray(orders, dtype=np.int64),
        customer=np.asarray(customers, dtype=np.int64),
        item=np.asarray(items, dtype=np.int64),
        day=np.asarray(days, dtype=np.int64),
        catalogue=catalogue,
    )
