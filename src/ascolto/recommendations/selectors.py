"""Recommendation reads: what to suggest to a customer, what they are due to re-buy, and
(workspace-wide, for the daily events) who is due and whose churn risk crossed the threshold.

Reasons are translated in the active language, so build them inside `translation.override`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ascolto.core.models import Workspace
from ascolto.customers.models import Customer, Order
from ascolto.recommendations import scoring
from ascolto.recommendations.models import ItemAffinity, ItemCycle
from ascolto.recommendations.purchases import NOT_PURCHASES, purchase_lines

RECOMMENDATIONS = 5
# An item is "due" from a week before its predicted date until a month after it: later than
# that, the customer has probably stopped buying it and a reminder would be noise.
DUE_AHEAD_DAYS = 7
DUE_GRACE_DAYS = 30
# Churn risk: the chance that an active customer with this buying rhythm would have ordered
# again by now, 1 - exp(-days since last order / usual gap). 0.9 ≈ 2.3 usual gaps of silence.
CHURN_THRESHOLD = 0.9
DEFAULT_GAP_DAYS = 90.0
MIN_POOLED_GAPS = 5
# Only crossings this recent become events, so the first run does not re-announce every
# customer who lapsed years ago.
CHURN_LOOKBACK_DAYS = 30


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


@dataclass(frozen=True)
class Recommendation:
    name: str
    sku: str
    because_of: str
    confidence: float
    lift: float
    reason: str


@dataclass(frozen=True)
class Replenishment:
    name: str
    sku: str
    due_on: dt.date
    interval_days: int
    own_rhythm: bool  # from the customer's own repeats, else the item's usual rhythm
    reason: str


def _percent(share: float) -> int:
    return round(share * 100)


def recommendations_for(
    *, customer: Customer, limit: int = RECOMMENDATIONS
) -> list[Recommendation]:
    """Items often bought with what the customer bought, best confidence first. Items they
    already bought are left out unless consumable (re-bought on a rhythm)."""
    lines = purchase_lines(workspace=customer.workspace, customer=customer)
    owned = set(lines.catalogue.keys)
    if not owned:
        return []
    consumable = set(
        ItemCycle.objects.filter(workspace=customer.workspace, item_key__in=owned).values_list(
            "item_key", flat=True
        )
    )
    cycles = scoring.purchase_cycles(lines.customer, lines.item, lines.day)
    consumable |= {lines.catalogue.keys[i] for i in cycles.item[cycles.purchases > 1].tolist()}
    best: dict[str, Recommendation] = {}
    affinities = (
        ItemAffinity.objects.filter(workspace=customer.workspace, item_key__in=owned)
        .order_by("-confidence", "-lift", "other_key")
        .values_list("item_name", "other_key", "other_name", "other_sku", "confidence", "lift")
    )
    for item_name, other_key, other_name, other_sku, confidence, lift in affinities:
        if other_key in best or (other_key in owned and other_key not in consumable):
            continue
        best[other_key] = Recommendation(
            name=other_name,
            sku=other_sku,
            because_of=item_name,
            confidence=confidence,
            lift=lift,
            reason=_("Bought with %(item)s in %(percent)s%% of its orders")
            % {"item": item_name, "percent": _percent(confidence)},
        )
        if len(best) >= limit:
            break
    return list(best.values())


def is_due(due_on: dt.date, today: dt.date) -> bool:
    return (
        due_on - dt.timedelta(days=DUE_AHEAD_DAYS)
        <= today
        <= due_on + dt.timedelta(days=DUE_GRACE_DAYS)
    )


def replenishment_reason(interval_days: int, due_on: dt.date) -> str:
    return _("Usually re-bought every %(days)s days, due %(date)s") % {
        "days": interval_days,
        "date": formats.date_format(due_on, "DATE_FORMAT"),
    }


def replenishment_for(
    *, customer: Customer, today: dt.date | None = None, due_only: bool = True
) -> list[Replenishment]:
    """The items the customer re-buys and when next, soonest first: by their own median gap
    when they bought the item on two days or more, else by the item's usual rhythm."""
    today = today or _today()
    lines = purchase_lines(workspace=customer.workspace, customer=customer)
    catalogue = lines.catalogue
    cycles = scoring.purchase_cycles(lines.customer, lines.item, lines.day)
    pooled = dict(
        ItemCycle.objects.filter(
            workspace=customer.workspace, item_key__in=catalogue.keys
        ).values_list("item_key", "median_days")
    )
    found: list[Replenishment] = []
    for item, last_day, own in zip(
        cycles.item.tolist(), cycles.last_day.tolist(), cycles.own_median.tolist(), strict=True
    ):
        own_rhythm = not math.isnan(own)
        interval = own if own_rhythm else pooled.get(catalogue.keys[item])
        if interval is None or interval < 1:
            continue
        days = round(interval)
        due_on = dt.date.fromordinal(last_day + days)
        if due_only and not is_due(due_on, today):
            continue
        found.append(
            Replenishment(
                name=catalogue.names[item],
                sku=catalogue.skus[item],
                due_on=due_on,
                interval_days=days,
                own_rhythm=own_rhythm,
                reason=replenishment_reason(days, due_on),
            )
        )
    found.sort(key=lambda r: (r.due_on, r.name))
    return found


# --- Workspace-wide, for the daily events ----------------------------------------------------


@dataclass(frozen=True)
class DueItem:
    customer_id: int
    item_key: str
    name: str
    sku: str
    last_purchase_on: dt.date
    due_on: dt.date
    interval_days: int


def replenishment_due(*, workspace: Workspace, today: dt.date | None = None) -> list[DueItem]:
    """Every (customer, item) of the workspace that is due today (see `is_due`)."""
    today = today or _today()
    lines = purchase_lines(workspace=workspace)
    catalogue = lines.catalogue
    cycles = scoring.purchase_cycles(lines.customer, lines.item, lines.day)
    pooled = np.full(len(catalogue.keys), np.nan)
    for item, median in cycles.item_median.items():
        pooled[item] = median
    interval = np.where(np.isnan(cycles.own_median), pooled[cycles.item], cycles.own_median)
    known = ~np.isnan(interval) & (np.nan_to_num(interval) >= 1)
    days = np.rint(np.nan_to_num(interval)).astype(np.int64)
    due_day = cycles.last_day + days
    ordinal = today.toordinal()
    due = known & (due_day - DUE_AHEAD_DAYS <= ordinal) & (ordinal <= due_day + DUE_GRACE_DAYS)
    return [
        DueItem(
            customer_id=customer,
            item_key=catalogue.keys[item],
            name=catalogue.names[item],
            sku=catalogue.skus[item],
            last_purchase_on=dt.date.fromordinal(last),
            due_on=dt.date.fromordinal(due_at),
            interval_days=gap,
        )
        for customer, item, last, due_at, gap in zip(
            cycles.customer[due].tolist(),
            cycles.item[due].tolist(),
            cycles.last_day[due].tolist(),
            due_day[due].tolist(),
            days[due].tolist(),
            strict=True,
        )
    ]


@dataclass(frozen=True)
class ChurnCrossing:
    customer_id: int
    last_order_on: dt.date
    crossed_on: dt.date
    usual_gap_days: float
    own_rhythm: bool
    orders: int
    risk: float  # today


def churn_risk(days_since_last_order: float, usual_gap_days: float) -> float:
    return 1.0 - math.exp(-days_since_last_order / usual_gap_days)


def churn_crossings(
    *, workspace: Workspace, today: dt.date | None = None, threshold: float = CHURN_THRESHOLD
) -> list[ChurnCrossing]:
    """Customers whose churn risk crossed `threshold` in the last CHURN_LOOKBACK_DAYS days.

    The usual gap is the customer's median days between order days (two orders or more), else
    the median over all the workspace's repeat gaps (DEFAULT_GAP_DAYS with fewer than
    MIN_POOLED_GAPS of them). A new order starts a new period, so a customer crosses at most once
    per last order.
    """
    today = today or _today()
    rows = (
        Order.objects.filter(workspace=workspace, customer__merged_into__isnull=True)
        .exclude(status__in=NOT_PURCHASES)
        .values_list("customer_id", "placed_at")
    )
    pairs = [(c, placed.astimezone(dt.UTC).date().toordinal()) for c, placed in rows.iterator()]
    if not pairs:
        return []
    customer_days = np.unique(np.asarray(pairs, dtype=np.int64), axis=0)
    customers, days = customer_days[:, 0], customer_days[:, 1]
    same = customers[1:] == customers[:-1]
    gaps = (days[1:] - days[:-1])[same].astype(np.float64)
    gap_owner = customers[1:][same]
    own = scoring.group_medians(gap_owner, gaps)
    own_gap = dict(zip(own.group.tolist(), own.median.tolist(), strict=True))
    pooled = float(np.median(gaps)) if len(gaps) >= MIN_POOLED_GAPS else DEFAULT_GAP_DAYS
    ids, starts, counts = np.unique(customers, return_index=True, return_counts=True)
    last_days = days[starts + counts - 1]
    silence = math.log(1.0 / (1.0 - threshold))  # usual gaps of silence at the threshold
    found = []
    for customer, last, n in zip(ids.tolist(), last_days.tolist(), counts.tolist(), strict=True):
        gap = max(own_gap.get(customer, pooled), 1.0)
        crossed = last + math.ceil(silence * gap)
        if today.toordinal() - CHURN_LOOKBACK_DAYS <= crossed <= today.toordinal():
            found.append(
                ChurnCrossing(
                    customer_id=customer,
                    last_order_on=dt.date.fromordinal(last),
                    crossed_on=dt.date.fromordinal(crossed),
                    usual_gap_days=gap,
                    own_rhythm=customer in own_gap,
                    orders=n,
                    risk=churn_risk(today.toordinal() - last, gap),
                )
            )
    return found
