"""Upserts by external id, one at a time and in bulk (up to 1,000 rows a call).

Each row runs in its own savepoint: a bad row is reported with its index and field errors and
the others are written. Sending the same rows again updates them and creates nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import Customer
from ascolto.customers.services.customers import customer_create, customer_update, identity_add
from ascolto.customers.services.orders import OrderInput, order_upsert


@dataclass
class CustomerInput:
    external_id: str
    name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    birthday: dt.date | None = None
    value_tier: str | None = None
    attributes: dict[str, Any] | None = None
    identities: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class OrderRowInput:
    customer_external_id: str
    order: OrderInput


@dataclass
class RowError:
    index: int
    message: str
    field_errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BulkResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def customer_upsert(
    *, workspace: Workspace, data: CustomerInput, actor: Actor
) -> tuple[Customer, bool]:
    """Create or update the customer with `data.external_id`; None fields are left unchanged."""
    if not data.external_id or len(data.external_id) > 100:
        raise ValidationFailed(
            "A customer needs an external id of at most 100 characters.",
            field_errors={"external_id": ["Required, at most 100 characters."]},
        )
    customer = Customer.objects.filter(workspace=workspace, external_id=data.external_id).first()
    if customer is None:
        customer = customer_create(
            workspace=workspace,
            actor=actor,
            external_id=data.external_id,
            name=data.name or "",
            locale=data.locale or "",
            timezone_name=data.timezone or "",
            birthday=data.birthday,
            value_tier=data.value_tier or "",
            attributes=data.attributes,
            identities=data.identities,
        )
        return customer, True
    if customer.merged_into_id is not None:
        raise ValidationFailed(
            f"Customer {data.external_id!r} was merged into customer #{customer.merged_into_id}."
        )
    changes = {
        key: value
        for key in ("name", "locale", "timezone", "birthday", "value_tier", "attributes")
        if (value := getattr(data, key)) is not None and _differs(customer, key, value)
    }
    if changes:
        customer_update(customer=customer, actor=actor, **changes)
    for kind, value in data.identities:
        identity_add(customer=customer, kind=kind, value=value, actor=actor)
    return customer, False


def _differs(customer: Customer, key: str, value: Any) -> bool:
    if key == "attributes":
        return any(customer.attributes.get(k) != v for k, v in value.items())
    return bool(getattr(customer, key) != value)


def _check_size(rows: list[Any]) -> None:
    limit = settings.ASCOLTO_BULK_LIMIT
    if len(rows) > limit:
        raise ValidationFailed(
            f"At most {limit} rows per request (got {len(rows)}); split the batch.",
            field_errors={"items": [f"At most {limit} rows."]},
        )


def customers_bulk_upsert(
    *, workspace: Workspace, rows: list[CustomerInput], actor: Actor
) -> BulkResult:
    _check_size(rows)
    result = BulkResult()
    for index, row in enumerate(rows):
        try:
            with transaction.atomic():
                customer, created = customer_upsert(workspace=workspace, data=row, actor=actor)
        except DomainError as exc:
            result.errors.append(RowError(index, exc.message, exc.field_errors))
            continue
        (result.created if created else result.updated).append(customer.pk)
    return result


def orders_bulk_upsert(
    *, workspace: Workspace, rows: list[OrderRowInput], actor: Actor
) -> BulkResult:
    _check_size(rows)
    result = BulkResult()
    wanted = {row.customer_external_id for row in rows}
    customers = {
        c.external_id: c
        for c in Customer.objects.filter(workspace=workspace, external_id__in=wanted)
    }
    for index, row in enumerate(rows):
        customer = customers.get(row.customer_external_id)
        if customer is None:
            result.errors.append(
                RowError(
                    index,
                    f"No customer with external id {row.customer_external_id!r}.",
                    {"customer_external_id": ["Unknown customer."]},
                )
            )
            continue
        if customer.merged_into_id is not None:
            customer = Customer.objects.get(pk=customer.merged_into_id)
        try:
            with transaction.atomic():
                order, created = order_upsert(
                    workspace=workspace, customer=customer, data=row.order, actor=actor
                )
        except DomainError as exc:
            result.errors.append(RowError(index, exc.message, exc.field_errors))
            continue
        (result.created if created else result.updated).append(order.pk)
    return result
