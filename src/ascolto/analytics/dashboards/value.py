"""Customer value: revenue in the period by value tier, and how concentrated it is (Pareto).

Revenue is the total of the orders placed in the period in the workspace's default currency,
cancelled and refunded orders left out. The channel, team and agent filters do not apply to
orders; the language filter applies to the customer's language, the tier filter to their tier.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.figures import Figure, customer_drill
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.value.pareto import pareto_curve, pareto_summary
from ascolto.core.models import Workspace
from ascolto.customers.models import Order, ValueTier

EXCLUDED = [Order.Status.CANCELLED, Order.Status.REFUNDED]
DRILLS = {"buyers": "buyers", "revenue": "buyers", "share_for_80": "top80"}


def revenue_orders(*, workspace: Workspace, filters: DashboardFilters) -> QuerySet[Order]:
    qs = Order.objects.filter(
        workspace=workspace,
        currency=workspace.default_currency,
        placed_at__gte=filters.period.start,
        placed_at__lt=filters.period.end,
    ).exclude(status__in=EXCLUDED)
    if filters.tier_value is not None:
        qs = qs.filter(customer__value_tier=filters.tier_value)
    if filters.language:
        qs = qs.filter(customer__locale=filters.language)
    return qs


def revenue_by_customer(*, workspace: Workspace, filters: DashboardFilters) -> dict[int, Decimal]:
    return {
        row["customer_id"]: row["revenue"]
        for row in revenue_orders(workspace=workspace, filters=filters)
        .values("customer_id")
        .annotate(revenue=Sum("total"))
        .order_by()
    }


def _figures(revenue: dict[int, Decimal]) -> dict[str, float | None]:
    summary = pareto_summary([float(v) for v in revenue.values()])
    return {
        "buyers": float(summary.customers),
        "revenue": summary.total,
        "share_for_80": None if summary.share_for_80 is None else 100 * summary.share_for_80,
    }


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    revenue = revenue_by_customer(workspace=workspace, filters=filters)
    previous = _figures(revenue_by_customer(workspace=workspace, filters=filters.previous()))
    current = _figures(revenue)
    targets = targets_of(workspace)
    labels = {
        "buyers": (_("Customers who bought"), "count", True),
        "revenue": (
            _("Revenue (%(currency)s)") % {"currency": workspace.default_currency},
            "score",
            True,
        ),
        "share_for_80": (_("Customers behind 80 percent of revenue"), "percent", False),
    }
    figs = [
        Figure(
            key=key,
            label=label,
            value=current[key],
            previous=previous[key],
            unit=unit,
            higher_is_better=better,
            href=customer_drill(filters, DRILLS[key]),
            target=targets.get(key),
        )
        for key, (label, unit, better) in labels.items()
    ]
    by_tier = (
        revenue_orders(workspace=workspace, filters=filters)
        .values("customer__value_tier")
        .annotate(revenue=Sum("total"))
        .order_by("customer__value_tier")
    )
    tier_labels = dict(ValueTier.choices)
    xs, ys = pareto_curve([float(v) for v in revenue.values()], points=21)
    return Dashboard(
        key="value",
        title=_("Customer value"),
        figures=figs,
        charts=[
            charts.bars(
                _("Revenue by value tier"),
                [
                    (str(tier_labels.get(r["customer__value_tier"], "")), float(r["revenue"]))
                    for r in by_tier
                ],
                rtl=rtl,
            ),
            charts.pareto_curve(
                _("Revenue concentration"),
                [float(x) for x in xs],
                [float(y) for y in ys],
                x_label=_("of customers"),
                y_label=_("of revenue"),
                rtl=rtl,
            ),
        ],
    )
