"""Drill-downs: the conversations or customers behind a dashboard number, filtered the same way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ascolto.analytics.dashboards.conversations import (
    LIVE_SUBSETS,
    SUBSETS,
    subset_label,
    subset_queryset,
)
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import response_queryset
from ascolto.analytics.dashboards.value import revenue_by_customer, revenue_orders
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.inbox.models import Conversation
from ascolto.surveys import metrics as survey_metrics

DRILL_LIMIT = 500
CUSTOMER_SUBSETS = {
    "responded": gettext_lazy("Customers who answered a survey"),
    "promoters": gettext_lazy("Promoters (9-10)"),
    "detractors": gettext_lazy("Detractors (0-6)"),
    "buyers": gettext_lazy("Customers who bought"),
    "top80": gettext_lazy("Customers making 80 percent of revenue"),
    "csat_answered": gettext_lazy("Customers who gave a CSAT answer"),
    "ces_answered": gettext_lazy("Customers who gave a CES answer"),
}


def top_customers(revenue: dict[int, Decimal], share: float = 0.8) -> list[int]:
    """The fewest customers, largest first, whose revenue reaches `share` of the total (the
    customers behind `pareto.share_of_customers_for`); ties by id."""
    total = sum((max(v, Decimal(0)) for v in revenue.values()), Decimal(0))
    if total <= 0:
        return []
    chosen: list[int] = []
    running = Decimal(0)
    for customer_id, amount in sorted(revenue.items(), key=lambda kv: (-kv[1], kv[0])):
        if running >= total * Decimal(str(share)):
            break
        chosen.append(customer_id)
        running += max(amount, Decimal(0))
    return chosen


def _unknown(name: str) -> ValidationFailed:
    return ValidationFailed(_("Unknown list."), field_errors={"subset": [_("Unknown list.")]})


def drill_conversations(
    *, workspace: Workspace, filters: DashboardFilters, name: str, now: dt.datetime
) -> tuple[str, int, QuerySet[Conversation]]:
    """The label, the count and (at most DRILL_LIMIT of, oldest first) the conversations a
    number counts."""
    if name not in SUBSETS and name not in LIVE_SUBSETS:
        raise _unknown(name)
    matching = subset_queryset(workspace=workspace, filters=filters, name=name, now=now)
    rows = matching.select_related("customer", "assignee").order_by("pk")[:DRILL_LIMIT]
    return subset_label(name), matching.count(), rows


def customer_ids(*, workspace: Workspace, filters: DashboardFilters, name: str) -> list[int]:
    if name == "buyers":
        qs = revenue_orders(workspace=workspace, filters=filters)
        return sorted(set(qs.values_list("customer_id", flat=True)))
    if name == "top80":
        return sorted(top_customers(revenue_by_customer(workspace=workspace, filters=filters)))
    responses = response_queryset(workspace=workspace, filters=filters)
    if name == "promoters":
        responses = responses.filter(nps_score__gte=survey_metrics.PROMOTER_MIN)
    elif name == "detractors":
        responses = responses.filter(nps_score__lte=survey_metrics.DETRACTOR_MAX)
    elif name == "csat_answered":
        responses = responses.filter(csat_score__isnull=False)
    elif name == "ces_answered":
        responses = responses.filter(ces_score__isnull=False)
    elif name != "responded":
        raise _unknown(name)
    return sorted(set(responses.values_list("customer_id", flat=True)))


def drill_customers(
    *, workspace: Workspace, filters: DashboardFilters, name: str
) -> tuple[str, int, QuerySet[Customer]]:
    ids = customer_ids(workspace=workspace, filters=filters, name=name)
    rows = Customer.objects.filter(workspace=workspace, pk__in=ids[:DRILL_LIMIT]).order_by("pk")
    return str(CUSTOMER_SUBSETS[name]), len(ids), rows
