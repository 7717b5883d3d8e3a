"""Customer list and Customer 360 page. Reads go through `customers.selectors` only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ascolto.core.audit import audit_entries
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, is_htmx, render_in_workspace
from ascolto.customers import selectors, services
from ascolto.customers.models import (
    Activity,
    AttributeDefinition,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    Order,
    ValueTier,
)
from ascolto.customers.selectors import TimelineEntry

CUSTOMERS_PAGE = 50
ORDERS_PAGE = 10
TIMELINE_PAGE = 25
AUDIT_PREVIEW = 10
CUSTOMER_AUDIT_LIMIT = 200
CONSENT_HISTORY_LIMIT = 50
MAX_SEARCH = 200

# The tier filter's "unranked" stands for the empty value tier.
TIER_FILTERS = {**{tier: tier for tier in ValueTier.values if tier}, "unranked": ""}
HAS_ORDERS_FILTERS: dict[str, bool | None] = {"": None, "yes": True, "no": False}


@dataclass(frozen=True)
class ListFilters:
    search: str
    tier: str
    has_orders: str
    cursor: str

    @property
    def active(self) -> bool:
        return bool(self.search or self.tier or self.has_orders)


def _parse_filters(params: QueryDict) -> ListFilters | str:
    """The list's filters from the query string, or a message saying what is wrong."""
    search = params.get("q", "").strip()
    tier = params.get("tier", "")
    has_orders = params.get("has_orders", "")
    if len(search) > MAX_SEARCH:
        return _("Search for at most %(n)s characters.") % {"n": MAX_SEARCH}
    if tier and tier not in TIER_FILTERS:
        return _("Unknown value tier filter.")
    if has_orders not in HAS_ORDERS_FILTERS:
        return _("The orders filter must be “yes”, “no” or empty.")
    return ListFilters(
        search=search, tier=tier, has_orders=has_orders, cursor=params.get("cursor", "")
    )


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """Search and filter customers; htmx swaps the results, "load more" appends the next page."""
    workspace = current_workspace(request)
    filters = _parse_filters(request.GET)
    if isinstance(filters, str):
        return bad_request(request, filters)
    try:
        page = selectors.customer_list(
            workspace=workspace,
            search=filters.search,
            value_tier=TIER_FILTERS[filters.tier] if filters.tier else None,
            has_orders=HAS_ORDERS_FILTERS[filters.has_orders],
            cursor=filters.cursor or None,
            limit=CUSTOMERS_PAGE,
        )
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid; search again."))
    context = {
        "page": page,
        "filters": filters,
        "tier_choices": [(key, ValueTier(value).label) for key, value in TIER_FILTERS.items()],
        "section": "customers",
        "currency": workspace.default_currency,
    }
    if is_htmx(request):
        template = "customers/_rows.html" if filters.cursor else "customers/_results.html"
    else:
        template = "customers/list.html"
    return render_in_workspace(request, template, context)


def _customer_or_404(workspace: Workspace, pk: int) -> Customer:
    try:
        return selectors.customer_get(workspace=workspace, customer_id=pk)
    except NotFound:
        raise Http404(_("No such customer in this workspace.")) from None


@dataclass(frozen=True)
class AttributeRow:
    label: str
    kind: str
    value: Any


def _typed_value(definition: AttributeDefinition | None, raw: Any) -> tuple[str, Any]:
    """The attribute's type and its value as that type, for display; text when unsure."""
    kind = definition.type if definition is not None else AttributeDefinition.Type.TEXT
    try:
        if kind == AttributeDefinition.Type.DATE and isinstance(raw, str):
            return kind, dt.date.fromisoformat(raw)
        if kind == AttributeDefinition.Type.NUMBER and not isinstance(raw, bool):
            return kind, Decimal(str(raw))
        if kind == AttributeDefinition.Type.BOOLEAN and isinstance(raw, bool):
            return kind, raw
    except (ValueError, InvalidOperation):
        pass
    if kind in (
        AttributeDefinition.Type.DATE,
        AttributeDefinition.Type.NUMBER,
        AttributeDefinition.Type.BOOLEAN,
    ):
        kind = AttributeDefinition.Type.TEXT
    return kind, raw


def _attribute_rows(customer: Customer, workspace: Workspace) -> list[AttributeRow]:
    if not customer.attributes:
        return []
    definitions = services.attribute_definitions(workspace)
    rows = []
    for key, raw in customer.attributes.items():
        definition = definitions.get(key)
        kind, value = _typed_value(definition, raw)
        rows.append(
            AttributeRow(label=definition.label if definition else key, kind=kind, value=value)
        )
    return sorted(rows, key=lambda row: row.label.lower())


@dataclass(frozen=True)
class TimelineRow:
    """A timeline entry with what the page shows: a translated headline and detail."""

    entry: TimelineEntry
    headline: str
    detail: str
    status: str = ""
    amount: Decimal | None = None
    currency: str = ""
    is_user_text: bool = False


def _choice_label(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, value or ""))


def _field_label(name: str) -> str:
    try:
        field = Customer._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _timeline_row(entry: TimelineEntry) -> TimelineRow:
    """Describe system entries from their structured data, so they read in the user's language;
    notes, messages and outside events keep the words they were written in."""
    data = entry.data or {}
    kind = entry.kind
    label = entry.kind_label
    if kind == Activity.Kind.ORDER_PLACED and entry.source_type == "order":
        number = entry.title.removeprefix("Order ")
        return TimelineRow(
            entry=entry,
            headline=_("Order %(number)s placed") % {"number": number},
            detail="",
            status=_choice_label(Order.Status.choices, data.get("status")),
            amount=_decimal_or_none(data.get("total")),
            currency=str(data.get("currency", "")),
        )
    if kind == Activity.Kind.ORDER_UPDATED:
        return TimelineRow(
            entry=entry,
            headline=label,
            detail=_("Status changed from %(old)s to %(new)s")
            % {
                "old": _choice_label(Order.Status.choices, data.get("from")),
                "new": _choice_label(Order.Status.choices, data.get("to")),
            },
        )
    if kind == Activity.Kind.CONSENT_CHANGED:
        values = {
            "purpose": _choice_label(ConsentPurpose.choices, data.get("purpose")),
            "channel": _choice_label(ConsentChannel.choices, data.get("channel")),
        }
        detail = (
            _("%(purpose)s on %(channel)s: granted") % values
            if data.get("granted")
            else _("%(purpose)s on %(channel)s: revoked") % values
        )
        return TimelineRow(entry=entry, headline=label, detail=detail)
    if kind == Activity.Kind.CUSTOMER_UPDATED:
        changed = data.get("changes") or {}
        fields = ", ".join(_field_label(name) for name in sorted(changed))
        return TimelineRow(entry=entry, headline=label, detail=fields)
    if kind == Activity.Kind.CUSTOMER_MERGED:
        merged_id = data.get("merged_customer_id")
        return TimelineRow(
            entry=entry,
            headline=label,
            detail=_("Customer #%(id)s was merged into this profile.") % {"id": merged_id},
        )
    if kind == Activity.Kind.CUSTOMER_CREATED:
        return TimelineRow(entry=entry, headline=label, detail="")
    if kind == Activity.Kind.IDENTITY_ADDED:
        return TimelineRow(entry=entry, headline=label, detail=entry.title, is_user_text=True)
    return TimelineRow(
        entry=entry, headline=entry.title or label, detail=entry.body, is_user_text=True
    )


def _timeline(customer: Customer, cursor: str | None) -> tuple[list[TimelineRow], str | None]:
    page = selectors.customer_timeline(customer=customer, cursor=cursor, limit=TIMELINE_PAGE)
    return [_timeline_row(entry) for entry in page.items], page.next_cursor


@login_required
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The Customer 360 page: profile, identities, orders, consent, merges, timeline, audit."""
    workspace = current_workspace(request)
    customer = _customer_or_404(workspace, pk)
    if customer.merged_into_id is not None:
        messages.info(
            request,
            _("Customer #%(id)s was merged into this profile; you are seeing the merged profile.")
            % {"id": customer.pk},
        )
        return redirect("customers:detail", pk=customer.merged_into_id)
    orders = selectors.order_list(workspace=workspace, customer=customer, limit=ORDERS_PAGE)
    timeline_rows, timeline_cursor = _timeline(customer, None)
    context = {
        "customer": customer,
        "section": "customers",
        "attributes": _attribute_rows(customer, workspace),
        "identities": list(selectors.identities_of(customer=customer)),
        "orders": orders.items,
        "orders_cursor": orders.next_cursor,
        "spend": selectors.customer_spend(customer=customer),
        "consents": selectors.consent_current(customer=customer),
        "consent_history": selectors.consent_history(
            customer=customer, limit=CONSENT_HISTORY_LIMIT
        ),
        "merges": selectors.merges_of(customer=customer),
        "timeline": timeline_rows,
        "timeline_cursor": timeline_cursor,
        "audit": list(
            audit_entries(workspace=workspace, customer_id=customer.pk, limit=AUDIT_PREVIEW)
        ),
        "audit_preview": AUDIT_PREVIEW,
    }
    return render_in_workspace(request, "customers/detail.html", context)


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor", "") or None


@login_required
@require_GET
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The next page of the customer's timeline (a fragment for htmx, a page otherwise)."""
    workspace = current_workspace(request)
    customer = _customer_or_404(workspace, pk)
    try:
        rows, cursor = _timeline(customer, _cursor(request))
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid; reload the page."))
    context = {
        "customer": customer,
        "timeline": rows,
        "timeline_cursor": cursor,
        "section": "customers",
    }
    template = "customers/_timeline_items.html" if is_htmx(request) else "customers/timeline.html"
    return render_in_workspace(request, template, context)


@login_required
@require_GET
def customer_orders(request: HttpRequest, pk: int) -> HttpResponse:
    """The next page of the customer's orders, newest first (a fragment for htmx)."""
    workspace = current_workspace(request)
    customer = _customer_or_404(workspace, pk)
    try:
        page = selectors.order_list(
            workspace=workspace, customer=customer, cursor=_cursor(request), limit=ORDERS_PAGE
        )
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid; reload the page."))
    context = {
        "customer": customer,
        "orders": page.items,
        "orders_cursor": page.next_cursor,
        "section": "customers",
    }
    template = "customers/_order_rows.html" if is_htmx(request) else "customers/orders.html"
    return render_in_workspace(request, template, context)


@login_required
@require_GET
def customer_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Who changed what on this customer, newest first."""
    workspace = current_workspace(request)
    customer = _customer_or_404(workspace, pk)
    entries = list(
        audit_entries(workspace=workspace, customer_id=customer.pk, limit=CUSTOMER_AUDIT_LIMIT)
    )
    return render_in_workspace(
        request,
        "customers/audit.html",
        {
            "customer": customer,
            "entries": entries,
            "section": "customers",
            "limit": CUSTOMER_AUDIT_LIMIT,
        },
    )
