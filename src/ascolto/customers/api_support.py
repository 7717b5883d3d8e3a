"""Reads and conversions the Customer 360 API needs beyond customers.selectors.

Every read takes the workspace (or a customer of it) and filters by it; an id of another
workspace is NotFound exactly like an unknown one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, prefetch_related_objects

from ascolto.core.api import ItemError
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.core.pagination import decode_cursor, encode_cursor
from ascolto.customers import selectors
from ascolto.customers.api_schemas import CustomerBulkItem, OrderBulkItem, OrderFields
from ascolto.customers.models import Customer, Identity, Organization
from ascolto.customers.selectors import MAX_PAGE, Page
from ascolto.customers.services import (
    BulkResult,
    CustomerInput,
    OrderInput,
    OrderLineInput,
    OrderRowInput,
)


def identity_get(*, customer: Customer, identity_id: int) -> Identity:
    """The identity with this id of this customer; NotFound for any other."""
    identity = (
        Identity.objects.select_related("workspace")
        .filter(workspace_id=customer.workspace_id, customer=customer, pk=identity_id)
        .first()
    )
    if identity is None:
        raise NotFound(f"Customer #{customer.pk} has no identity #{identity_id}.")
    return identity


def organization_page(*, workspace: Workspace, cursor: str | None = None, limit: int = 50) -> Page:
    """Organizations by name (then id), keyset-paginated on (name, id)."""
    limit = max(1, min(limit, MAX_PAGE))
    qs = Organization.objects.filter(workspace=workspace)
    if cursor:
        name, last_id = decode_cursor(cursor, types=(str, int))
        qs = qs.filter(Q(name__gt=name) | Q(name=name, pk__gt=last_id))
    rows = list(qs.order_by("name", "pk")[: limit + 1])
    next_cursor = (
        encode_cursor(rows[limit - 1].name, rows[limit - 1].pk) if len(rows) > limit else None
    )
    return Page(items=rows[:limit], next_cursor=next_cursor)


def organization_ref(
    *, workspace: Workspace, organization_id: int, field: str = "organization_id"
) -> Organization:
    """An organization named in a request body; NotFound naming the field otherwise."""
    try:
        return selectors.organization_get(workspace=workspace, organization_id=organization_id)
    except NotFound as exc:
        raise NotFound(exc.message, field_errors={field: ["No such organization."]}) from None


def customer_ref(*, workspace: Workspace, customer_id: int, field: str) -> Customer:
    """A customer named in a request body (merges followed); NotFound naming the field."""
    try:
        return selectors.customer_get(
            workspace=workspace, customer_id=customer_id, follow_merge=True
        )
    except NotFound as exc:
        raise NotFound(exc.message, field_errors={field: ["No such customer."]}) from None


def with_identities(customers: list[Customer]) -> list[Customer]:
    """The same customers with their identities fetched in one query."""
    prefetch_related_objects(customers, "identities")
    return customers


# --- Conversions from API shapes to service inputs -------------------------------------------


def order_input(data: OrderFields, *, external_id: str) -> OrderInput:
    return OrderInput(
        external_id=external_id,
        placed_at=data.placed_at,
        total=data.total,
        currency=data.currency,
        status=data.status,
        delivered_at=data.delivered_at,
        promised_at=data.promised_at,
        metadata=data.metadata,
        lines=None
        if data.lines is None
        else [
            OrderLineInput(
                name=line.name, quantity=line.quantity, unit_price=line.unit_price, sku=line.sku
            )
            for line in data.lines
        ],
    )


def customer_row(item: CustomerBulkItem) -> CustomerInput:
    return CustomerInput(
        external_id=item.external_id,
        name=item.name,
        locale=item.locale,
        timezone=item.timezone,
        birthday=item.birthday,
        value_tier=item.value_tier,
        attributes=item.attributes,
        identities=[(identity.kind, identity.value) for identity in item.identities],
    )


def order_row(item: OrderBulkItem) -> OrderRowInput:
    return OrderRowInput(
        customer_external_id=item.customer_external_id,
        order=order_input(item, external_id=item.external_id),
    )


def bulk_out(
    result: BulkResult, *, positions: list[int], invalid: list[ItemError]
) -> dict[str, Any]:
    """The bulk response, with the service's row indexes mapped back to the request's.

    `positions[i]` is the request index of the i-th row the service received (the invalid
    items never reach it).
    """
    errors: list[dict[str, Any]] = [
        {"index": error.index, "detail": error.detail, "errors": error.errors} for error in invalid
    ]
    errors += [
        {"index": positions[error.index], "detail": error.message, "errors": error.field_errors}
        for error in result.errors
    ]
    errors.sort(key=lambda error: int(error["index"]))
    return {"created": result.created, "updated": result.updated, "errors": errors}
