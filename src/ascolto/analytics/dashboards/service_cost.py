"""Service contacts and effort per customer segment, for the customer-value dashboard: how
concentrated contacts are (the share of customers behind half of them, as `value.pareto` defines
it for revenue) and the cost to serve each value tier (its conversations and agent hours against
the revenue it brings).

Contacts are the conversations started in the period (every conversation filter applies); agent
hours are their handle time (`service_metrics.handle_time`, what the dashboards call AHT). Per
tier both come from the conversation rollups (tier rows, or a filter-and-tier pair) when they can
answer, else from the conversations themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
from django.db import connection
from django.db.models import Count

from ascolto.analytics import rollups
from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.conversations import conversation_queryset, filtered_facts
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters
from ascolto.analytics.value.pareto import share_of_customers_for
from ascolto.core.models import Workspace


def contacts_per_customer(*, workspace: Workspace, filters: DashboardFilters) -> dict[int, int]:
    """How many customers had how many contacts in the period: {contacts: customers}. Counted
    by the database (a histogram, not a row per customer)."""
    per_customer = (
        conversation_queryset(workspace=workspace, filters=filters)
        .filter(customer__isnull=False)
        .values("customer_id")
        .annotate(n=Count("id"))
        .values("n")
        .order_by()
    )
    sql, params = per_customer.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.n, COUNT(*) FROM ({sql}) AS s GROUP BY s.n", params)  # noqa: S608
        return {int(n): int(customers) for n, customers in cursor.fetchall()}


def contact_share_for(histogram: dict[int, int], share: float = 0.5) -> float | None:
    """The smallest share of customers (most contacts first) behind `share` of the contacts:
    `pareto.share_of_customers_for` over the customers the histogram counts."""
    if not histogram:
        return None
    values = np.repeat(
        np.array(list(histogram), dtype=float), np.array(list(histogram.values()), dtype=np.int64)
    )
    return share_of_customers_for(values, share)


@dataclass(frozen=True)
class TierCost:
    """One value tier's share of the service effort and of the revenue. Shares are fractions of
    the selection's totals (None when the total is zero)."""

    tier: str  # a TIERS key ("unranked" for customers without a tier)
    conversations: int
    agent_hours: float
    revenue: float
    conversation_share: float | None
    hours_share: float | None
    revenue_share: float | None

    @property
    def hours_per_conversation(self) -> float | None:
        return self.agent_hours / self.conversations if self.conversations else None

    @property
    def revenue_per_agent_hour(self) -> float | None:
        return self.revenue / self.agent_hours if self.agent_hours else None


def _effort(workspace: Workspace, filters: DashboardFilters, now: dt.datetime) -> tuple[int, float]:
    """Conversations and handle seconds of the selection: from the rollups, else directly."""
    chosen = rollups.selection(workspace=workspace, filters=filters, now=now, with_messages=False)
    if chosen is not None:
        return chosen.total.conversations, chosen.total.handle_seconds
    facts = filtered_facts(workspace=workspace, filters=filters, with_messages=False)
    return len(facts), sum(m.handle_time(c) for c in facts if c.handling)


def cost_to_serve(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    revenue_by_tier: dict[str, float],
    now: dt.datetime,
) -> list[TierCost]:
    """Per value tier (the selected one only, with a tier filter): conversations, agent hours
    and revenue (`revenue_by_tier`, keyed by tier value, "" for none), and each one's share of
    the totals. Tiers with neither contacts nor revenue are left out."""
    keys = [filters.tier] if filters.tier else list(TIERS)
    effort = {key: _effort(workspace, replace(filters, tier=key), now) for key in keys}
    revenue = {key: float(revenue_by_tier.get(TIERS[key], 0.0)) for key in keys}
    total_conversations = sum(c for c, _ in effort.values())
    total_hours = sum(s for _, s in effort.values()) / 3600
    total_revenue = sum(revenue.values())

    def share(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    rows = []
    for key in keys:
        conversations, seconds = effort[key]
        if not conversations and not revenue[key]:
            continue
        hours = seconds / 3600
        rows.append(
            TierCost(
                tier=key,
                conversations=conversations,
                agent_hours=hours,
                revenue=revenue[key],
                conversation_share=share(conversations, total_conversations),
                hours_share=share(hours, total_hours),
                revenue_share=share(revenue[key], total_revenue),
            )
        )
    return rows
