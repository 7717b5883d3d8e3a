"""Concentration of revenue and of service contacts across customers (Pareto analysis).

Customers are sorted from the largest value down; the share of customers needed for a share of the
total is the smallest k/n whose top-k customers reach it. "20% of customers make 80% of revenue" is
`share_of_customers_for(revenue, 0.8) == 0.2`. A customer's negative value (refunds above purchases)
counts as zero: it cannot take away from what the others bring. With no customers or a zero total
the shares are undefined and returned as None, never as a made-up number.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ascolto.analytics.value._arrays import (
    FloatArray,
    IntArray,
    InvalidInput,
    as_float_array,
    same_length,
)

# Relative slack when comparing a running total with a target share, so that four customers who
# spend 1.0 each reach exactly 50% with two of them despite binary floating point.
TOLERANCE = 1e-12


@dataclass(frozen=True)
class ParetoSummary:
    customers: int
    total: float
    share_for_50: float | None
    share_for_80: float | None
    gini: float | None


@dataclass(frozen=True)
class SegmentCost:
    """Revenue and cost to serve of one segment; shares are of the workspace totals (None if 0)."""

    segment: Hashable
    customers: int
    revenue: float
    contacts: float
    cost_to_serve: float
    revenue_share: float | None
    contact_share: float | None
    cost_per_customer: float
    contacts_per_customer: float
    cost_to_revenue: float | None


def _sorted_desc(values: Iterable[float] | FloatArray) -> FloatArray:
    array = np.clip(as_float_array(values, "values"), 0.0, None)
    result: FloatArray = np.sort(array)[::-1]
    return result


def share_of_customers_for(values: Iterable[float] | FloatArray, share: float) -> float | None:
    """Smallest fraction of customers (largest first) whose values reach `share` of the total."""
    if not 0.0 <= share <= 1.0:
        raise InvalidInput("share must be between 0 and 1")
    ordered = _sorted_desc(values)
    total = float(ordered.sum())
    if len(ordered) == 0 or total <= 0.0:
        return None
    running = np.cumsum(ordered)
    needed = int(np.searchsorted(running, share * total * (1 - TOLERANCE), side="left")) + 1
    return min(needed, len(ordered)) / len(ordered) if share > 0 else 0.0


def pareto_curve(
    values: Iterable[float] | FloatArray, *, points: int = 101
) -> tuple[FloatArray, FloatArray]:
    """Points of the Pareto curve: (share of customers, share of the total they make).

    Customers are taken largest first. The curve starts at (0, 0), ends at (1, 1) and is concave
    and increasing; it has at most `points` points evenly spread over the customer axis (all of
    them for a small workspace). Empty arrays when undefined.
    """
    if points < 2:
        raise InvalidInput("a curve needs at least two points")
    ordered = _sorted_desc(values)
    total = float(ordered.sum())
    n = len(ordered)
    if n == 0 or total <= 0.0:
        return np.zeros(0), np.zeros(0)
    counts = curve_counts(n, points)
    running = np.concatenate(([0.0], np.cumsum(ordered)))
    customer_share: FloatArray = counts / n
    value_share: FloatArray = np.minimum(running[counts] / total, 1.0)
    return customer_share, value_share


def curve_counts(customers: int, points: int) -> IntArray:
    """How many of the largest customers each point of `pareto_curve` takes (0 first, all last).

    Every count is the floor or the ceiling of i * customers / (points - 1) for some i, or any
    count when there are fewer customers than points: a database that sums customers can be
    asked for just those running totals.
    """
    if points < 2:
        raise InvalidInput("a curve needs at least two points")
    spread = np.linspace(0, customers, min(points, customers + 1))
    counts: IntArray = np.unique(np.round(spread).astype(np.int64))
    return counts


def gini(values: Iterable[float] | FloatArray) -> float | None:
    """Gini coefficient: 0 when everyone is equal, (n-1)/n when one customer has it all."""
    ordered = np.sort(np.clip(as_float_array(values, "values"), 0.0, None))
    n = len(ordered)
    total = float(ordered.sum())
    if n == 0 or total <= 0.0:
        return None
    ranks = np.arange(1, n + 1)
    return float(np.clip((2.0 * np.dot(ranks, ordered) / (n * total)) - (n + 1) / n, 0.0, 1.0))


def pareto_summary(values: Iterable[float] | FloatArray) -> ParetoSummary:
    """Customers, total, shares of customers for 50% and 80% of the total, and the Gini."""
    array = as_float_array(values, "values")
    return ParetoSummary(
        customers=len(array),
        total=float(np.clip(array, 0.0, None).sum()),
        share_for_50=share_of_customers_for(array, 0.5),
        share_for_80=share_of_customers_for(array, 0.8),
        gini=gini(array),
    )


def cost_to_serve_by_segment(
    segments: Sequence[Hashable],
    revenue: Iterable[float] | FloatArray,
    contacts: Iterable[float] | FloatArray,
    *,
    cost_per_contact: float = 1.0,
    service_cost: Iterable[float] | FloatArray | None = None,
) -> list[SegmentCost]:
    """Revenue, contacts and cost to serve per segment (e.g. per value tier), largest revenue first.

    The cost to serve is `service_cost` per customer when given (handling minutes times a rate,
    computed by the caller), otherwise contacts times `cost_per_contact`. Revenue may be negative
    for a customer (refunds); segment revenue is the plain sum.
    """
    revenue_array = as_float_array(revenue, "revenue")
    contact_array = as_float_array(contacts, "contacts")
    if cost_per_contact < 0:
        raise InvalidInput("cost per contact must not be negative")
    cost_array = (
        contact_array * cost_per_contact
        if service_cost is None
        else as_float_array(service_cost, "service_cost")
    )
    labels = np.empty(len(segments), dtype=object)
    labels[:] = list(segments)
    same_length(
        segments=np.zeros(len(labels)),
        revenue=revenue_array,
        contacts=contact_array,
        service_cost=cost_array,
    )
    if np.any(contact_array < 0) or np.any(cost_array < 0):
        raise InvalidInput("contacts and service cost must not be negative")
    total_revenue = float(revenue_array.sum())
    total_contacts = float(contact_array.sum())
    rows: list[SegmentCost] = []
    for segment in dict.fromkeys(segments):
        member = labels == segment
        customers = int(member.sum())
        seg_revenue = float(revenue_array[member].sum())
        seg_contacts = float(contact_array[member].sum())
        seg_cost = float(cost_array[member].sum())
        rows.append(
            SegmentCost(
                segment=segment,
                customers=customers,
                revenue=seg_revenue,
                contacts=seg_contacts,
                cost_to_serve=seg_cost,
                revenue_share=seg_revenue / total_revenue if total_revenue else None,
                contact_share=seg_contacts / total_contacts if total_contacts else None,
                cost_per_customer=seg_cost / customers,
                contacts_per_customer=seg_contacts / customers,
                cost_to_revenue=seg_cost / seg_revenue if seg_revenue > 0 else None,
            )
        )
    rows.sort(key=lambda row: row.revenue, reverse=True)
    return rows
