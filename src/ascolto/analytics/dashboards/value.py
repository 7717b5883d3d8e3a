"""Customer value: revenue in the period by value tier, and how concentrated it is (Pareto).

Revenue is the total of the orders placed in the period in the workspace's default currency,
cancelled and refunded orders left out. The channel, team and agent filters do not apply to
orders; the language filter applies to the customer's language, the tier filter to their tier.

The figures of one period (`PeriodValue`) follow `value.pareto` on the revenue of each buyer. On
PostgreSQL they come from one statement (window functions over the per-customer sums, returning
the running totals at the curve's points, not a row per customer); elsewhere from those sums in
Python. Summing a large workspace's period still takes seconds, so a period with DIRECT_ORDERS
or more orders is stored as a snapshot (`analytics.snapshots`, kind "value") and read from it
while it is younger than FRESH_FOR. An older one (up to STALE_FOR) is still shown while a worker
computes the period again; the first view of a period computes and stores it; an hourly job
(`snapshots_refresh`) keeps the default periods of large workspaces fresh. The drill-downs read
the same figures, so the customers listed are those the dashboard counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.analytics import snapshots
from ascolto.analytics.dashboards import charts
from ascolto.analytics.dashboards.common import Dashboard, targets_of
from ascolto.analytics.dashboards.figures import Figure, conversation_drill, customer_drill
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters, parse_filters
from ascolto.analytics.dashboards.service_cost import (
    contact_share_for,
    contacts_per_customer,
    cost_to_serve,
)
from ascolto.analytics.models import Snapshot
from ascolto.analytics.value.pareto import TOLERANCE, curve_counts, pareto_curve, pareto_summary
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer, Order, ValueTier

EXCLUDED = [Order.Status.CANCELLED, Order.Status.REFUNDED]
DRILLS = {"buyers": "buyers", "revenue": "buyers", "share_for_80": "top80"}
CURVE_POINTS = 21
TOP_SHARE = Decimal("0.8")
KIND = Snapshot.Kind.VALUE
FRESH_FOR = dt.timedelta(hours=1)
STALE_FOR = dt.timedelta(days=1)
DIRECT_ORDERS = 5_000
PRESET_DAYS = (28,)  # the period the dashboards open with
DRILL_ROWS = 500  # drill.DRILL_LIMIT (drill imports this module)


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


def top_customers(revenue: dict[int, Decimal], share: Decimal = TOP_SHARE) -> list[int]:
    """The fewest customers, largest first, whose revenue reaches `share` of the total (the
    customers behind `pareto.share_of_customers_for`); ties by id."""
    total = sum((max(v, Decimal(0)) for v in revenue.values()), Decimal(0))
    if total <= 0:
        return []
    chosen: list[int] = []
    running = Decimal(0)
    for customer_id, amount in sorted(revenue.items(), key=lambda kv: (-kv[1], kv[0])):
        if running >= total * share:
            break
        chosen.append(customer_id)
        running += max(amount, Decimal(0))
    return chosen


@dataclass(frozen=True)
class PeriodValue:
    """The value figures of one period and filters. `share_for_80` is a fraction (None without
    revenue); the curve is `pareto.pareto_curve` with CURVE_POINTS points; `by_tier` is (tier,
    revenue) in tier order; the top customers (the `top80` drill-down) are the first
    `top80_count` by revenue then id. `buyer_ids` and `top80_ids` are the first DRILL_ROWS of
    each list by id (what the drill-downs show)."""

    buyers: int
    revenue: float
    share_for_80: float | None
    curve_x: list[float]
    curve_y: list[float]
    by_tier: list[tuple[str, float]]
    top80_count: int
    buyer_ids: list[int]
    top80_ids: list[int]
    share_for_50: float | None = None
    # How many customers had how many conversations in the period: {contacts: customers}.
    contacts: dict[int, int] = field(default_factory=dict)


def _by_tier(workspace: Workspace, filters: DashboardFilters) -> list[tuple[str, float]]:
    rows = (
        revenue_orders(workspace=workspace, filters=filters)
        .values("customer__value_tier")
        .annotate(revenue=Sum("total"))
        .order_by("customer__value_tier")
    )
    return [(r["customer__value_tier"], float(r["revenue"])) for r in rows]


def period_in_python(*, workspace: Workspace, filters: DashboardFilters) -> PeriodValue:
    """The definition: every buyer's revenue pulled into Python and handed to `value.pareto`."""
    revenue = revenue_by_customer(workspace=workspace, filters=filters)
    values = [float(v) for v in revenue.values()]
    summary = pareto_summary(values)
    xs, ys = pareto_curve(values, points=CURVE_POINTS)
    top = top_customers(revenue)
    return PeriodValue(
        buyers=summary.customers,
        revenue=summary.total,
        share_for_80=summary.share_for_80,
        curve_x=[float(x) for x in xs],
        curve_y=[float(y) for y in ys],
        by_tier=_by_tier(workspace, filters),
        top80_count=len(top),
        buyer_ids=sorted(revenue)[:DRILL_ROWS],
        top80_ids=sorted(top)[:DRILL_ROWS],
        share_for_50=summary.share_for_50,
    )


# `per` is each buyer's revenue and tier; `ranked` numbers them largest first (ties by id) with
# the running total of their revenue, negatives counting as zero as in value.pareto. One row
# comes back: the buyers, the total, the rank reaching 80% exactly (the drill-down, as
# top_customers) and with pareto's tolerance (the figure), the running totals at the ranks the
# curve needs, revenue by tier, and the first ids of the buyers and of the top customers.
PARETO_SQL = """
WITH per (customer_id, tier, revenue) AS ({per_customer}),
ranked AS (
    SELECT customer_id, revenue, ROW_NUMBER() OVER w AS k,
           SUM(GREATEST(revenue, 0)) OVER w AS running
    FROM per
    WINDOW w AS (ORDER BY GREATEST(revenue, 0) DESC, customer_id ROWS UNBOUNDED PRECEDING)
),
totals AS (SELECT COUNT(*) AS n, COALESCE(MAX(running), 0) AS total FROM ranked),
reach AS (
    SELECT MIN(r.k) FILTER (WHERE r.running >= t.total * %s) AS exact,
           MIN(r.k) FILTER (WHERE r.running >= t.total * %s) AS tolerant,
           MIN(r.k) FILTER (WHERE r.running >= t.total * %s) AS half
    FROM ranked AS r CROSS JOIN totals AS t
),
wanted AS (
    SELECT p FROM totals AS t CROSS JOIN generate_series(0, %s) AS i,
        LATERAL (VALUES (floor(i::numeric * t.n / %s)), (ceil(i::numeric * t.n / %s))) AS v (p)
    UNION SELECT g FROM totals AS t CROSS JOIN generate_series(1, t.n) AS g WHERE t.n < %s
)
SELECT t.n, t.total, reach.exact, reach.tolerant, reach.half, curve.ks, curve.running, tiers.names,
    tiers.sums,
    (SELECT array_agg(customer_id ORDER BY customer_id)
     FROM (SELECT customer_id FROM per ORDER BY customer_id LIMIT %s) AS b),
    (SELECT array_agg(customer_id ORDER BY customer_id)
     FROM (SELECT customer_id FROM ranked WHERE k <= reach.exact
           ORDER BY customer_id LIMIT %s) AS c)
FROM totals AS t CROSS JOIN reach
CROSS JOIN LATERAL (
    SELECT array_agg(r.k ORDER BY r.k) AS ks, array_agg(r.running ORDER BY r.k) AS running
    FROM ranked AS r WHERE r.k IN (SELECT p FROM wanted)
) AS curve
CROSS JOIN LATERAL (
    SELECT array_agg(g.tier ORDER BY g.tier) AS names, array_agg(g.s ORDER BY g.tier) AS sums
    FROM (SELECT tier, SUM(revenue) AS s FROM per GROUP BY tier) AS g
) AS tiers
"""


def period_in_sql(*, workspace: Workspace, filters: DashboardFilters) -> PeriodValue:
    """The same figures as `period_in_python`, computed by PostgreSQL."""
    per_customer, params = (
        revenue_orders(workspace=workspace, filters=filters)
        .values("customer_id", "customer__value_tier")
        .annotate(revenue=Sum("total"))
        .order_by()
        .query.sql_with_params()
    )
    steps = CURVE_POINTS - 1
    slack = 1 - Decimal(repr(TOLERANCE))
    tolerant_share, half_share = TOP_SHARE * slack, Decimal("0.5") * slack
    shape: list[Decimal | int] = [TOP_SHARE, tolerant_share, half_share]
    shape += [steps, steps, steps, CURVE_POINTS]
    shape += [DRILL_ROWS, DRILL_ROWS]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling the statement costs more than it saves
        cursor.execute(PARETO_SQL.format(per_customer=per_customer), [*params, *shape])
        n, total, exact, tolerant, half, ranks, running, tiers, sums, buyer_ids, top_ids = (
            cursor.fetchone()
        )
    by_tier = [(tier, float(s)) for tier, s in zip(tiers or [], sums or [], strict=True)]
    if n == 0 or total <= 0:
        return PeriodValue(n, float(total), None, [], [], by_tier, 0, buyer_ids or [], [])
    at = {0: Decimal(0), **dict(zip(ranks, running, strict=True))}
    counts = curve_counts(n, CURVE_POINTS)
    return PeriodValue(
        buyers=n,
        revenue=float(total),
        share_for_80=min(tolerant or n, n) / n,
        curve_x=[float(x) for x in counts / n],
        curve_y=[min(float(at[int(c)]) / float(total), 1.0) for c in counts],
        by_tier=by_tier,
        top80_count=exact,
        buyer_ids=buyer_ids,
        top80_ids=top_ids,
        share_for_50=min(half or n, n) / n,
    )


def period_compute(*, workspace: Workspace, filters: DashboardFilters) -> PeriodValue:
    if connection.vendor == "postgresql":
        figures = period_in_sql(workspace=workspace, filters=filters)
    else:
        figures = period_in_python(workspace=workspace, filters=filters)
    # The customers' conversations, under the filters this page applies (tier and language).
    contacts = contacts_per_customer(workspace=workspace, filters=page_filters(filters))
    return replace(figures, contacts=contacts)


def page_filters(filters: DashboardFilters) -> DashboardFilters:
    """The filters this page applies: tier and language (the others do not apply to orders)."""
    return replace(filters, channel="", team_id=None, agent_id=None)


def to_data(figures: PeriodValue) -> dict[str, Any]:
    return {
        "buyers": figures.buyers,
        "revenue": figures.revenue,
        "share_for_80": figures.share_for_80,
        "curve_x": figures.curve_x,
        "curve_y": figures.curve_y,
        "by_tier": [list(pair) for pair in figures.by_tier],
        "top80_count": figures.top80_count,
        "buyer_ids": figures.buyer_ids,
        "top80_ids": figures.top80_ids,
        "share_for_50": figures.share_for_50,
        "contacts": sorted(figures.contacts.items()),
    }


def from_data(data: dict[str, Any]) -> PeriodValue:
    return PeriodValue(
        buyers=data["buyers"],
        revenue=data["revenue"],
        share_for_80=data["share_for_80"],
        curve_x=data["curve_x"],
        curve_y=data["curve_y"],
        by_tier=[(tier, revenue) for tier, revenue in data["by_tier"]],
        top80_count=data["top80_count"],
        buyer_ids=data["buyer_ids"],
        top80_ids=data["top80_ids"],
        share_for_50=data["share_for_50"],
        contacts={int(n): int(customers) for n, customers in data["contacts"]},
    )


def filters_key(filters: DashboardFilters) -> str:
    """The filters that apply to orders (tier and language), in their query-string form."""
    pairs = (("language", filters.language), ("tier", filters.tier))
    return "&".join(f"{key}={v}" for key, v in pairs if v)


def _rows(workspace: Workspace, filters: DashboardFilters) -> QuerySet[Snapshot]:
    return snapshots.rows(KIND, workspace, filters, filters_key(filters))


def is_large(workspace: Workspace, filters: DashboardFilters) -> bool:
    """Whether the period holds DIRECT_ORDERS or more orders (the count stops there)."""
    orders = Order.objects.filter(
        workspace=workspace,
        placed_at__gte=filters.period.start,
        placed_at__lt=filters.period.end,
    )
    return orders.values("pk")[:DIRECT_ORDERS].count() >= DIRECT_ORDERS


def snapshot_compute(*, workspace: Workspace, filters: DashboardFilters) -> PeriodValue:
    """Compute the period's figures and store them as its snapshot."""
    figures = period_compute(workspace=workspace, filters=filters)
    snapshots.store(KIND, workspace, filters, filters_key(filters), to_data(figures))
    return figures


def _request(workspace: Workspace, filters: DashboardFilters, now: dt.datetime) -> None:
    """Queue the snapshot's computation unless one was queued within REQUEUE_AFTER."""
    from ascolto.analytics import tasks

    workspace_id, params = workspace.pk, filters.params()
    snapshots.request(
        KIND,
        workspace,
        filters,
        filters_key(filters),
        now=now,
        enqueue=lambda: tasks.compute_value_snapshot(workspace_id, params),
    )


def period_value(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime | None = None
) -> PeriodValue:
    """The figures of the period: from a snapshot younger than FRESH_FOR; computed now for a
    small workspace; for a large one, from a snapshot younger than STALE_FOR while a worker
    computes it again, else computed now and stored."""
    now = now or timezone.now()
    snapshot = (
        _rows(workspace, filters)
        .filter(computed_at__gte=now - STALE_FOR)
        .only("data", "computed_at")
        .first()
    )
    stored = _stored(snapshot)
    if snapshot is not None and stored is not None and _fresh(snapshot, now):
        return stored
    if not is_large(workspace, filters):
        return period_compute(workspace=workspace, filters=filters)
    if stored is not None:
        _request(workspace, filters, now)
        return stored
    return snapshot_compute(workspace=workspace, filters=filters)


def _fresh(snapshot: Snapshot, now: dt.datetime) -> bool:
    return snapshot.computed_at is not None and snapshot.computed_at >= now - FRESH_FOR


def _stored(snapshot: Snapshot | None) -> PeriodValue | None:
    """The snapshot's figures; None without one or when an older version wrote it."""
    if snapshot is None:
        return None
    try:
        return from_data(snapshot.data)
    except (KeyError, TypeError, ValueError):
        return None


def preset_filters(workspace: Workspace, today: dt.date) -> list[DashboardFilters]:
    """The last PRESET_DAYS days and the periods before them, all tiers and each tier."""
    found = []
    for days in PRESET_DAYS:
        first = today - dt.timedelta(days=days - 1)
        for tier in ("", *TIERS):
            params = {"from": first.isoformat(), "to": today.isoformat(), "tier": tier}
            filters = parse_filters(params, workspace=workspace, today=today)
            found += [filters, filters.previous()]
    return found


def snapshots_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute the preset snapshots of every large workspace (judged on the shortest period,
    all tiers). Returns how many were stored."""
    return snapshots.refresh_presets(
        now=now or timezone.now(),
        presets=preset_filters,
        is_large=lambda workspace, presets: is_large(workspace, presets[0]),
        compute=lambda workspace, filters: snapshot_compute(workspace=workspace, filters=filters),
    )


def value_drill(
    *, workspace: Workspace, filters: DashboardFilters, name: str, limit: int
) -> tuple[int, QuerySet[Customer]]:
    """The customers behind a value figure (`buyers` or `top80`): how many, and the first
    `limit` (at most DRILL_ROWS) by id, as the period's figures have them (a large workspace's
    from its snapshot, so the list matches the number on the dashboard)."""
    figures = period_value(workspace=workspace, filters=filters)
    count, ids = (
        (figures.buyers, figures.buyer_ids)
        if name == "buyers"
        else (figures.top80_count, figures.top80_ids)
    )
    rows = Customer.objects.filter(workspace=workspace, pk__in=ids[:limit]).order_by("pk")
    return count, rows


def _percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def _figures(period: PeriodValue) -> dict[str, float | None]:
    return {
        "buyers": float(period.buyers),
        "revenue": period.revenue,
        "share_for_80": _percent(period.share_for_80),
        "share_for_50": _percent(period.share_for_50),
        "contacts_for_50": _percent(contact_share_for(period.contacts)),
    }


def build(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime, rtl: bool = False
) -> Dashboard:
    period = period_value(workspace=workspace, filters=filters, now=now)
    previous = _figures(period_value(workspace=workspace, filters=filters.previous(), now=now))
    current = _figures(period)
    targets = targets_of(workspace)
    labels = {
        "buyers": (_("Customers who bought"), "count", True),
        "revenue": (
            _("Revenue (%(currency)s)") % {"currency": workspace.default_currency},
            "score",
            True,
        ),
        "share_for_80": (_("Customers behind 80 percent of revenue"), "percent", False),
        "share_for_50": (_("Customers behind half of revenue"), "percent", False),
        "contacts_for_50": (_("Customers behind half of service contacts"), "percent", False),
    }
    figs = [
        Figure(
            key=key,
            label=label,
            value=current[key],
            previous=previous[key],
            unit=unit,
            higher_is_better=better,
            href=customer_drill(filters, DRILLS[key]) if key in DRILLS else "",
            target=targets.get(key),
        )
        for key, (label, unit, better) in labels.items()
    ]
    tier_labels = dict(ValueTier.choices)
    return Dashboard(
        key="value",
        title=_("Customer value"),
        figures=figs,
        table_headers=[
            _("Value tier"),
            _("Conversations"),
            _("Agent hours"),
            _("Revenue (%(currency)s)") % {"currency": workspace.default_currency},
            _("Revenue per agent hour"),
        ],
        table_rows=_cost_rows(workspace, filters, period, now),
        charts=[
            charts.bars(
                _("Revenue by value tier"),
                [(str(tier_labels.get(tier, "")), revenue) for tier, revenue in period.by_tier],
                rtl=rtl,
            ),
            charts.pareto_curve(
                _("Revenue concentration"),
                period.curve_x,
                period.curve_y,
                x_label=_("of customers"),
                y_label=_("of revenue"),
                rtl=rtl,
            ),
        ],
    )


def _share(text: str, share: float | None) -> str:
    return text if share is None else f"{text} ({100 * share:.0f}%)"


def _cost_rows(
    workspace: Workspace, filters: DashboardFilters, period: PeriodValue, now: dt.datetime
) -> list[list[tuple[str, str]]]:
    """Cost to serve per value tier: each tier's conversations and agent hours against the
    revenue it brings, with its share of each (`service_cost.cost_to_serve`)."""
    shown = page_filters(filters)
    costs = cost_to_serve(
        workspace=workspace,
        filters=shown,
        revenue_by_tier=dict(period.by_tier),
        now=now,
    )
    labels = dict(ValueTier.choices)
    rows = []
    for cost in costs:
        tier_filters = replace(shown, tier=cost.tier)
        per_hour = cost.revenue_per_agent_hour
        rows.append(
            [
                (str(labels.get(TIERS[cost.tier], cost.tier)), ""),
                (
                    _share(f"{cost.conversations}", cost.conversation_share),
                    conversation_drill(tier_filters, "all"),
                ),
                (
                    _share(f"{cost.agent_hours:.1f}", cost.hours_share),
                    conversation_drill(tier_filters, "handled"),
                ),
                (
                    _share(f"{cost.revenue:.0f}", cost.revenue_share),
                    customer_drill(tier_filters, "buyers"),
                ),
                ("\u2013" if per_hour is None else f"{per_hour:.0f}", ""),
            ]
        )
    return rows
