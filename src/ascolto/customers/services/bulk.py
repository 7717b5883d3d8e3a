"""Upserts by external id, one at a time and in bulk (up to 1,000 rows a call).

The bulk services are set-based: every row is validated in Python first, the rows' customers,
identities and orders are read with a handful of IN queries, the rows are applied in order to
that in-memory state (so a row that repeats an external id sees what the earlier row wrote, as
row-by-row calls would), and the result is written with bulk inserts and updates. A bad row is
reported with its index and field errors and nothing of it is written; the others are. Sending
the same rows again changes and creates nothing.

What a bulk call records matches the one-row services: the same timeline entries (customer
created, profile updated, identity added, order status changed) and one audit entry per
created or changed row. Outbox: one `customers.customer.bulk_upserted` event per customers
call (nothing handles customer events one by one), and one `customers.order.created` /
`customers.order.updated` event per created or changed order, because handlers (the order
surveys) act on each order's status.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.audit import diff
from ascolto.core.errors import Conflict, DomainError, ValidationFailed
from ascolto.core.models import AuditLogEntry, OutboxEvent, Workspace
from ascolto.customers.models import Activity, Customer, Identity, Order, OrderLine
from ascolto.customers.normalize import normalize_identity, validate_attributes
from ascolto.customers.services.customers import (
    _validate_profile,
    attribute_definitions,
    customer_create,
    customer_snapshot,
    customer_update,
    identity_add,
)
from ascolto.customers.services.orders import (
    NOT_SPENT,
    OrderInput,
    validate_order_input,
)

ENQUEUE_AT_ONCE = 50
PROFILE_KEYS = ("name", "locale", "timezone", "birthday", "value_tier")
ORDER_FIELDS = (
    "customer_id",
    "status",
    "placed_at",
    "delivered_at",
    "promised_at",
    "total",
    "currency",
    "metadata",
)


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
    _check_external_id(data.external_id)
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
        for key in (*PROFILE_KEYS, "attributes")
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


def _check_external_id(external_id: str) -> None:
    if not external_id or len(external_id) > 100:
        raise ValidationFailed(
            "A customer needs an external id of at most 100 characters.",
            field_errors={"external_id": ["Required, at most 100 characters."]},
        )


def _check_size(rows: list[Any]) -> None:
    limit = settings.ASCOLTO_BULK_LIMIT
    if len(rows) > limit:
        raise ValidationFailed(
            f"At most {limit} rows per request (got {len(rows)}); split the batch.",
            field_errors={"items": [f"At most {limit} rows."]},
        )


class _Writes:
    """What a bulk call writes besides its main rows, collected and then inserted in bulk.

    Entries refer to model objects whose primary keys exist only after their bulk insert, so
    the ids are read when the rows are built, in `flush`.
    """

    def __init__(self, workspace: Workspace, actor: Actor, now: dt.datetime) -> None:
        self.workspace = workspace
        self.actor = actor
        self.now = now
        self._activities: list[tuple[Customer, dict[str, Any], Any]] = []
        self._audits: list[tuple[str, str, Any, Customer, dict[str, Any]]] = []
        self._events: list[tuple[str, Callable[[], dict[str, Any]]]] = []

    def activity(self, customer: Customer, source: Any = None, **fields: Any) -> None:
        """A timeline entry; `source` is the object whose id becomes source_id (default: the
        customer). A callable `data` is called once ids exist."""
        self._activities.append((customer, fields, source))

    def audit(
        self, action: str, object_type: str, obj: Any, customer: Customer, changes: dict[str, Any]
    ) -> None:
        self._audits.append((action, object_type, obj, customer, changes))

    def event(self, name: str, payload: Callable[[], dict[str, Any]]) -> None:
        """An outbox event whose payload is built once ids exist."""
        self._events.append((name, payload))

    def flush(self) -> None:
        activities = [
            Activity(
                workspace_id=self.workspace.pk,
                customer_id=customer.pk,
                occurred_at=self.now,
                actor=self.actor.user,
                source_id=str((source or customer).pk),
                **{
                    **fields,
                    "title": fields["title"][:300],
                    "data": data() if callable(data := fields.get("data", {})) else data,
                },
            )
            for customer, fields, source in self._activities
        ]
        Activity.objects.bulk_create(activities)
        last: dict[int, Activity] = {}
        for activity in activities:
            last[activity.customer_id] = activity
        if last:
            Customer.objects.filter(pk__in=list(last)).exclude(
                last_activity_at__gt=self.now
            ).update(last_activity_at=self.now)
        for customer_id, activity in last.items():
            realtime.publish_on_commit(
                workspace_id=self.workspace.pk,
                event="customers.activity.created",
                payload={
                    "customer_id": customer_id,
                    "activity_id": activity.pk,
                    "kind": activity.kind,
                },
            )
        AuditLogEntry.objects.bulk_create(
            AuditLogEntry(
                workspace=self.workspace,
                actor_user=self.actor.user,
                actor_token_id=self.actor.token_id,
                actor_label=self.actor.describe()[:200],
                action=action,
                object_type=object_type,
                object_id=str(obj.pk),
                customer_id=customer.pk,
                changes=changes,
                created_at=self.now,
            )
            for action, object_type, obj, customer, changes in self._audits
        )
        if self._events:
            events = OutboxEvent.objects.bulk_create(
                OutboxEvent(workspace=self.workspace, name=name, payload=payload())
                for name, payload in self._events
            )
            ids = [event.pk for event in events]
            transaction.on_commit(lambda: _enqueue_all(ids))


def _enqueue_all(event_ids: list[int]) -> None:
    """Queue the dispatch of events inserted in bulk, as `outbox.emit` does for one.

    Past ENQUEUE_AT_ONCE events the outbox sweeper dispatches them (within a minute or two):
    one queue write per event would cost seconds a call on the embedded SQLite queue.
    """
    if len(event_ids) > ENQUEUE_AT_ONCE:
        return
    for event_id in event_ids:
        outbox._enqueue(event_id)


# -- customers ---------------------------------------------------------------------------------
@dataclass
class _CustomerRow:
    index: int
    data: CustomerInput
    attributes: dict[str, Any] | None
    identities: list[tuple[str, str]]


def _validate_customer_rows(
    workspace: Workspace, rows: list[CustomerInput], errors: list[RowError]
) -> list[_CustomerRow]:
    definitions = attribute_definitions(workspace)
    valid: list[_CustomerRow] = []
    for index, row in enumerate(rows):
        try:
            _check_external_id(row.external_id)
            _validate_profile({key: getattr(row, key) for key in PROFILE_KEYS})
            attributes = (
                None if row.attributes is None else validate_attributes(row.attributes, definitions)
            )
            pairs = [(kind, normalize_identity(kind, value)) for kind, value in row.identities]
        except DomainError as exc:
            errors.append(RowError(index, exc.message, exc.field_errors))
            continue
        valid.append(_CustomerRow(index, row, attributes, pairs))
    return valid


def _owner_label(owner: Customer) -> str:
    return f"#{owner.pk}" if owner.pk is not None else f"{owner.external_id!r}"


def customers_bulk_upsert(
    *, workspace: Workspace, rows: list[CustomerInput], actor: Actor
) -> BulkResult:
    """Create or update customers by external id, set-based; see the module docstring.

    Raises ValidationFailed (nothing written) for more rows than ASCOLTO_BULK_LIMIT, and
    Conflict when a concurrent writer takes an identity of the batch while it is written.
    """
    _check_size(rows)
    errors: list[RowError] = []
    valid = _validate_customer_rows(workspace, rows, errors)
    by_ext: dict[str, Customer] = {
        c.external_id: c
        for c in Customer.objects.filter(
            workspace=workspace, external_id__in={r.data.external_id for r in valid}
        )
        if c.external_id
    }
    handles = {pair for r in valid for pair in r.identities}
    owners: dict[tuple[str, str], Customer] = {}
    kinds_of: defaultdict[int, set[str]] = defaultdict(set)
    existing_ids = [c.pk for c in by_ext.values()]
    if handles or existing_ids:
        known = {c.pk: c for c in by_ext.values()}
        found = Identity.objects.filter(
            Q(workspace=workspace, value__in={value for _, value in handles})
            | Q(workspace=workspace, customer_id__in=existing_ids)
        ).values_list("kind", "value", "customer_id")
        for kind, value, customer_id in found:
            kinds_of[customer_id].add(kind)
            if (kind, value) in handles:
                owners[kind, value] = known.get(customer_id) or Customer(pk=customer_id)

    now = timezone.now()
    writes = _Writes(workspace, actor, now)
    new_customers: list[Customer] = []
    new_identities: list[Identity] = []
    changed: dict[int, tuple[Customer, set[str]]] = {}  # by id(customer)
    outcome: list[tuple[int, Customer, bool]] = []
    new_kinds: defaultdict[int, set[str]] = defaultdict(set)  # by id(customer), this call

    for row in valid:
        data = row.data
        customer = by_ext.get(data.external_id)
        if customer is not None and customer.merged_into_id is not None:
            errors.append(
                RowError(
                    row.index,
                    f"Customer {data.external_id!r} was merged into customer "
                    f"#{customer.merged_into_id}.",
                )
            )
            continue
        taken = [
            (pair, owner)
            for pair in row.identities
            if (owner := owners.get(pair)) is not None and owner is not customer
        ]
        if taken:
            (kind, value), owner = taken[0]
            errors.append(
                RowError(
                    row.index,
                    f"{kind} {value} already belongs to customer {_owner_label(owner)}; merge "
                    "the two profiles instead.",
                    {"identities": [f"{kind}:{value} is taken by customer {_owner_label(owner)}."]},
                )
            )
            continue
        if customer is None:
            customer = Customer(
                workspace=workspace,
                external_id=data.external_id,
                name=data.name or "",
                locale=data.locale or "",
                timezone=data.timezone or "",
                birthday=data.birthday,
                value_tier=data.value_tier or "",
                attributes={k: v for k, v in (row.attributes or {}).items() if v is not None},
                last_activity_at=now,
            )
            new_customers.append(customer)
            by_ext[data.external_id] = customer
            snapshot = customer_snapshot(customer)
            writes.activity(
                customer,
                kind=Activity.Kind.CUSTOMER_CREATED,
                title="Customer created",
                source_type="customer",
            )
            writes.audit("customer.create", "customer", customer, customer, snapshot)
            for position, pair in enumerate(dict.fromkeys(row.identities)):
                identity = Identity(
                    workspace=workspace,
                    customer=customer,
                    kind=pair[0],
                    value=pair[1],
                    is_primary=position == 0,
                )
                new_identities.append(identity)
                owners[pair] = customer
                new_kinds[id(customer)].add(pair[0])
            outcome.append((row.index, customer, True))
            continue
        _apply_customer_changes(customer, row, writes, changed)
        for pair in dict.fromkeys(row.identities):
            if owners.get(pair) is customer:
                continue
            kind, value = pair
            has_kind = kind in new_kinds[id(customer)] or (
                customer.pk is not None and kind in kinds_of[customer.pk]
            )
            identity = Identity(
                workspace=workspace,
                customer=customer,
                kind=kind,
                value=value,
                is_primary=not has_kind,
            )
            new_identities.append(identity)
            owners[pair] = customer
            new_kinds[id(customer)].add(kind)
            writes.activity(
                customer,
                identity,
                kind=Activity.Kind.IDENTITY_ADDED,
                title=f"{identity.get_kind_display()}: {value}",
                source_type="identity",
            )
            writes.audit(
                "identity.add", "identity", identity, customer, {"kind": kind, "value": value}
            )
        outcome.append((row.index, customer, False))

    try:
        with transaction.atomic():
            Customer.objects.bulk_create(new_customers)
            Identity.objects.bulk_create(new_identities)
    except IntegrityError as exc:  # a concurrent writer took a handle or an external id
        raise Conflict(
            "An identity or external id of this batch was taken while it was written; "
            "send the batch again."
        ) from exc
    created_now = {id(c) for c in new_customers}
    groups: defaultdict[frozenset[str], list[Customer]] = defaultdict(list)
    for key, (customer, fields) in changed.items():
        if key not in created_now:
            groups[frozenset(fields | {"updated_at"})].append(customer)
    for names, customers in groups.items():
        for customer in customers:
            customer.updated_at = now
        Customer.objects.bulk_update(customers, sorted(names))
    writes.flush()

    result = BulkResult(errors=sorted(errors, key=lambda e: e.index))
    for _, customer, created in sorted(outcome, key=lambda item: item[0]):
        (result.created if created else result.updated).append(customer.pk)
    updated = {c.pk for key, (c, _) in changed.items() if key not in created_now}
    updated |= {i.customer_id for i in new_identities if id(i.customer) not in created_now}
    if new_customers or updated:
        outbox.emit(
            workspace=workspace,
            name="customers.customer.bulk_upserted",
            payload={"created": [c.pk for c in new_customers], "updated": sorted(updated)},
        )
    return result


def _apply_customer_changes(
    customer: Customer,
    row: _CustomerRow,
    writes: _Writes,
    changed: dict[int, tuple[Customer, set[str]]],
) -> None:
    """Apply a row's given fields that differ, recording the update as `customer_update`
    does: a timeline entry, an audit entry, a realtime push."""
    data = row.data
    before = customer_snapshot(customer)
    fields: set[str] = set()
    for key in PROFILE_KEYS:
        value = getattr(data, key)
        if value is not None and getattr(customer, key) != value:
            setattr(customer, key, value)
            fields.add(key)
    if row.attributes:
        merged = {**customer.attributes, **row.attributes}
        attributes = {k: v for k, v in merged.items() if v is not None}
        if attributes != customer.attributes:
            customer.attributes = attributes
            fields.add("attributes")
    changes = diff(before, customer_snapshot(customer))
    if not changes:
        return
    entry = changed.setdefault(id(customer), (customer, set()))
    entry[1].update(fields)
    writes.activity(
        customer,
        kind=Activity.Kind.CUSTOMER_UPDATED,
        title="Profile updated",
        body=", ".join(sorted(changes)),
        data={"changes": changes},
        source_type="customer",
    )
    writes.audit("customer.update", "customer", customer, customer, changes)
    if customer.pk is not None:
        realtime.publish_on_commit(
            workspace_id=customer.workspace_id,
            event="customers.customer.updated",
            payload={"customer_id": customer.pk},
        )


# -- orders ------------------------------------------------------------------------------------
def _order_values(customer: Customer, data: OrderInput) -> dict[str, Any]:
    return {
        "customer_id": customer.pk,
        "status": data.status,
        "placed_at": data.placed_at,
        "delivered_at": data.delivered_at,
        "promised_at": data.promised_at,
        "total": Decimal(data.total).quantize(Decimal("0.01")),
        "currency": data.currency.upper(),
        "metadata": data.metadata,
    }


def _line_keys(lines: Iterable[Any]) -> list[tuple[str, str, Decimal, Decimal]]:
    return [
        (line.sku, line.name, Decimal(line.quantity), Decimal(line.unit_price)) for line in lines
    ]


def orders_bulk_upsert(
    *, workspace: Workspace, rows: list[OrderRowInput], actor: Actor
) -> BulkResult:
    """Create or update orders by external id, set-based; see the module docstring.

    An order of a merged customer goes to the profile it was merged into. The stats of every
    customer who gained, lost or changed an order are recomputed with one aggregate query.
    """
    _check_size(rows)
    errors: list[RowError] = []
    valid: list[tuple[int, OrderRowInput]] = []
    for index, row in enumerate(rows):
        try:
            validate_order_input(row.order)
        except DomainError as exc:
            errors.append(RowError(index, exc.message, exc.field_errors))
            continue
        valid.append((index, row))
    customers = {
        c.external_id: c
        for c in Customer.objects.filter(
            workspace=workspace, external_id__in={r.customer_external_id for _, r in valid}
        )
    }
    targets = {
        c.pk: c
        for c in Customer.objects.filter(
            workspace=workspace,
            pk__in={c.merged_into_id for c in customers.values() if c.merged_into_id},
        )
    }
    orders = {
        o.external_id: o
        for o in Order.objects.filter(
            workspace=workspace, external_id__in={r.order.external_id for _, r in valid}
        )
    }
    with_lines = [
        o.pk
        for _, r in valid
        if r.order.lines is not None
        if (o := orders.get(r.order.external_id))
    ]
    stored_lines: defaultdict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=with_lines).order_by("id"):
        stored_lines[line.order_id].append(line)

    now = timezone.now()
    writes = _Writes(workspace, actor, now)
    new_orders: list[Order] = []
    changed: dict[int, tuple[Order, set[str]]] = {}
    new_lines: dict[int, tuple[Order, list[Any]]] = {}  # by id(order): the replacing lines
    touched: set[int] = set()
    outcome: list[tuple[int, Order, bool]] = []
    for index, row in valid:
        customer = customers.get(row.customer_external_id)
        if customer is None:
            errors.append(
                RowError(
                    index,
                    f"No customer with external id {row.customer_external_id!r}.",
                    {"customer_external_id": ["Unknown customer."]},
                )
            )
            continue
        if customer.merged_into_id is not None:
            customer = targets[customer.merged_into_id]
        data = row.order
        values = _order_values(customer, data)
        order = orders.get(data.external_id)
        created = order is None
        previous_status = None
        if order is None:
            order = Order(workspace=workspace, external_id=data.external_id, **values)
            orders[data.external_id] = order
            new_orders.append(order)
            fields = set(values)
        else:
            previous_status = order.status
            if order.customer_id != customer.pk:
                touched.add(order.customer_id)
            fields = {key for key, value in values.items() if getattr(order, key) != value}
            for key in fields:
                setattr(order, key, values[key])
        if data.lines is not None:
            current = (
                new_lines[id(order)][1]
                if id(order) in new_lines
                else stored_lines.get(order.pk or 0, [])
            )
            if _line_keys(current) != _line_keys(data.lines):
                new_lines[id(order)] = (order, list(data.lines))
                fields.add("lines")
        outcome.append((index, order, created))
        if not fields:
            continue
        touched.add(customer.pk)
        if not created:
            changed.setdefault(id(order), (order, set()))[1].update(fields - {"lines"})
        if not created and previous_status != order.status:
            writes.activity(
                customer,
                order,
                kind=Activity.Kind.ORDER_UPDATED,
                title=f"Order {order.external_id}: {previous_status} → {order.status}",
                data=functools.partial(_status_change, order, previous_status),
                source_type="order",
            )
        writes.audit(
            "order.create" if created else "order.update",
            "order",
            order,
            customer,
            {
                "external_id": order.external_id,
                "status": order.status,
                "total": str(order.total),
                "currency": order.currency,
            },
        )
        writes.event(
            "customers.order.created" if created else "customers.order.updated",
            functools.partial(_order_event, order, customer.pk, previous_status),
        )

    Order.objects.bulk_create(new_orders)
    groups: defaultdict[frozenset[str], list[Order]] = defaultdict(list)
    for order, fields in changed.values():
        if fields:
            groups[frozenset(fields | {"updated_at"})].append(order)
    for names, group in groups.items():
        for order in group:
            order.updated_at = now
        Order.objects.bulk_update(group, sorted(names))
    if new_lines:
        OrderLine.objects.filter(order_id__in=[o.pk for o, _ in new_lines.values()]).delete()
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for order, lines in new_lines.values()
            for line in lines
        )
    writes.flush()
    refresh_stats_bulk(workspace=workspace, customer_ids=touched)

    result = BulkResult(errors=sorted(errors, key=lambda e: e.index))
    for _, order, created in sorted(outcome, key=lambda item: item[0]):
        (result.created if created else result.updated).append(order.pk)
    return result


def _order_event(order: Order, customer_id: int, previous_status: str | None) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "customer_id": customer_id,
        "status": order.status,
        "previous_status": previous_status,
    }


def _status_change(order: Order, previous_status: str | None) -> dict[str, Any]:
    return {"order_id": order.pk, "from": previous_status, "to": order.status}


def refresh_stats_bulk(*, workspace: Workspace, customer_ids: Iterable[int]) -> int:
    """Recompute lifetime spend, order count and last order time of these customers with one
    aggregate query (the rule of `orders.customer_refresh_stats`); writes only the customers
    whose figures changed. Returns how many changed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    spent = Q(currency=workspace.default_currency) & ~Q(status__in=NOT_SPENT)
    stats: dict[int, dict[str, Any]] = {
        row["customer_id"]: dict(row)
        for row in Order.objects.filter(customer_id__in=ids)
        .values("customer_id")
        .annotate(
            spend=Coalesce(Sum("total", filter=spent), Decimal("0")),
            count=Count("id"),
            last=Max("placed_at"),
        )
    }
    stale: list[int] = []
    for customer in Customer.objects.filter(workspace=workspace, pk__in=ids).only(
        "lifetime_spend", "orders_count", "last_order_at"
    ):
        row = stats.get(customer.pk, {"spend": Decimal("0"), "count": 0, "last": None})
        spend = Decimal(row["spend"]).quantize(Decimal("0.01"))
        count: int = row["count"]
        last: dt.datetime | None = row["last"]
        if (customer.lifetime_spend, customer.orders_count, customer.last_order_at) != (
            spend,
            count,
            last,
        ):
            stale.append(customer.pk)
    if stale:
        # One UPDATE with correlated aggregates: Django's bulk_update would build a CASE per
        # row and field, which costs seconds of CPU for a thousand customers.
        of_customer = Order.objects.filter(customer_id=OuterRef("pk")).values("customer_id")
        Customer.objects.filter(pk__in=stale).update(
            lifetime_spend=Coalesce(
                Subquery(of_customer.annotate(v=Sum("total", filter=spent)).values("v")),
                Decimal("0"),
            ),
            orders_count=Coalesce(Subquery(of_customer.annotate(v=Count("id")).values("v")), 0),
            last_order_at=Subquery(of_customer.annotate(v=Max("placed_at")).values("v")),
        )
    return len(stale)
