"""Drill-downs: the conversations or customers behind a dashboard number, filtered the same way."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ascolto.analytics.dashboards.conversations import (
    LIVE_SUBSETS,
    SUBSETS,
    newest_first,
    subset_label,
    subset_queryset,
)
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.dashboards.metrics import response_queryset
from ascolto.analytics.dashboards.value import value_drill
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
VALUE_SUBSETS = ("buyers", "top80")
# Building 500 whole customers (four timestamps, attributes) costs more than the query.
CUSTOMER_ROW_FIELDS = ("id", "workspace_id", "name", "value_tier", "orders_count")


def _unknown(name: str) -> ValidationFailed:
    return ValidationFailed(_("Unknown list."), field_errors={"subset": [_("Unknown list.")]})


def drill_conversations(
    *, workspace: Workspace, filters: DashboardFilters, name: str, now: dt.datetime
) -> tuple[str, int, QuerySet[Conversation]]:
    """The label, the count and (at most DRILL_LIMIT of) the conversations a number counts:
    those started in the period newest first (`newest_first`); the live lists, which are not
    chosen by their start, by id."""
    if name not in SUBSETS and name not in LIVE_SUBSETS:
        raise _unknown(name)
    matching = subset_queryset(workspace=workspace, filters=filters, name=name, now=now)
    if name in LIVE_SUBSETS:
        rows = matching.select_related("customer", "assignee").order_by("pk")[:DRILL_LIMIT]
        return subset_label(name), matching.count(), rows
    # The page's ids first, from the list's index alone (every column the filters and the
    # condition read is in it), then those rows: reading whole rows while looking for the page
    # would fetch every row a filter turns down.
    ids = list(newest_first(matching).values_list("pk", flat=True)[:DRILL_LIMIT])
    page = Conversation.objects.filter(workspace=workspace, pk__in=ids)
    rows = newest_first(page.select_related("customer", "assignee"))
    return subset_label(name), matching.count(), rows


def customer_ids(*, workspace: Workspace, filters: DashboardFilters, name: str) -> list[int]:
    """The customers of a survey-based list (the value lists are `value.value_drill`)."""
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
    """The label, the count and (at most DRILL_LIMIT of, by id) the customers a number counts,
    with the fields the list shows (CUSTOMER_ROW_FIELDS)."""
    if name in VALUE_SUBSETS:
        count, rows = value_drill(
            workspace=workspace, filters=filters, name=name, limit=DRILL_LIMIT
        )
    else:
        ids = customer_ids(workspace=workspace, filters=filters, name=name)
        count = len(ids)
        rows = Customer.objects.filter(workspace=workspace, pk__in=ids[:DRILL_LIMIT]).order_by("pk")
    return str(CUSTOMER_SUBSETS[name]), count, rows.only(*CUSTOMER_ROW_FIELDS)
