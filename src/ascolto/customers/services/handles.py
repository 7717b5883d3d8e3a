"""Customers by handle for many inbound messages at once (a channel's batch).

`customers_by_handles` is `customer_get_or_create_by_identity` for a batch: one read of the
identities, then the missing customers, their identities, timeline entries, audit entries and
outbox events written with bulk inserts. What it records for a created customer matches
`customer_create`.

Two writers creating the same handle at once: identities are inserted in sorted key order with
ON CONFLICT DO NOTHING, so the loser waits for the winner's commit (never a deadlock between two
batches) and then reads the winner's customer; the customer it prepared for that handle is
deleted again in the same transaction, so nothing of it is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.bulkinsert import insert_rows
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import AuditLogEntry, OutboxEvent, Workspace
from ascolto.customers.models import Activity, Customer, Identity
from ascolto.customers.normalize import normalize_identity
from ascolto.customers.services.customers import (
    _validate_profile,
    activities_record,
    customer_snapshot,
)

HandleKey = tuple[str, str]


@dataclass(frozen=True)
class Handle:
    """A customer's handle as a channel names it, with the name to give a new customer."""

    kind: str
    value: str
    name: str = ""


@dataclass
class HandlesResult:
    """Per input handle (same order): the customer owning it, or why it was refused."""

    customers: list[Customer | ValidationFailed]
    created: set[int]


def customers_by_handles(
    *, workspace: Workspace, handles: list[Handle], actor: Actor
) -> HandlesResult:
    """The customer owning each handle, created when nobody does (the first name given for a
    handle names the new customer). A handle that does not normalise, or a name that is not
    valid, is answered with its ValidationFailed and writes nothing. The customers carry their
    id, workspace and language (OWNER_FIELDS; another field is read on first use, one query
    each). Call inside a transaction.
    """
    keys: list[HandleKey | ValidationFailed] = []
    names: dict[HandleKey, str] = {}
    for handle in handles:
        try:
            key = (handle.kind, normalize_identity(handle.kind, handle.value))
            _validate_profile({"name": handle.name})
        except ValidationFailed as exc:
            keys.append(exc)
            continue
        keys.append(key)
        names.setdefault(key, handle.name)
    wanted = sorted(names)
    owners = _owners(workspace, wanted)
    missing = [key for key in wanted if key not in owners]
    created: set[int] = set()
    if missing:
        owners.update(_create(workspace, missing, names, actor, created))
    return HandlesResult(
        customers=[key if isinstance(key, ValidationFailed) else owners[key] for key in keys],
        created=created,
    )


# What the callers read of a handle's owner (a customer's id, workspace and language): loading
# the identity and customer rows whole cost more than the query itself.
OWNER_FIELDS = ("kind", "value", "customer__id", "customer__workspace_id", "customer__locale")


def _owners(workspace: Workspace, keys: list[HandleKey]) -> dict[HandleKey, Customer]:
    if not keys:
        return {}
    found: dict[HandleKey, Customer] = {}
    for kind in sorted({kind for kind, _ in keys}):
        values = [value for k, value in keys if k == kind]
        for identity in (
            Identity.objects.select_related("customer")
            .filter(workspace=workspace, kind=kind, value__in=values)
            .only(*OWNER_FIELDS)
        ):
            found[(identity.kind, identity.value)] = identity.customer
    return found


def _create(
    workspace: Workspace,
    keys: list[HandleKey],
    names: dict[HandleKey, str],
    actor: Actor,
    created: set[int],
) -> dict[HandleKey, Customer]:
    prepared = insert_rows(
        Customer, [Customer(workspace=workspace, name=names[key]) for key in keys]
    )
    mine = dict(zip(keys, prepared, strict=True))
    Identity.objects.bulk_create(
        [
            Identity(
                workspace=workspace, customer=customer, kind=kind, value=value, is_primary=True
            )
            for (kind, value), customer in mine.items()
        ],
        ignore_conflicts=True,
    )
    owners = _owners(workspace, keys)
    lost = [customer.pk for key, customer in mine.items() if owners[key].pk != customer.pk]
    if lost:  # a concurrent writer created these handles first: theirs is the customer
        Customer.objects.filter(pk__in=lost).delete()
    won = [customer for key, customer in mine.items() if owners[key].pk == customer.pk]
    created.update(customer.pk for customer in won)
    _record_created(workspace, won, actor)
    return owners


def _record_created(workspace: Workspace, customers: list[Customer], actor: Actor) -> None:
    """What `customer_create` records for each: timeline entry, audit entry, outbox event."""
    if not customers:
        return
    activities_record(
        activities=[
            Activity(
                workspace=workspace,
                customer=customer,
                kind=Activity.Kind.CUSTOMER_CREATED,
                title="Customer created",
                occurred_at=customer.created_at,
                source_type="customer",
                source_id=str(customer.pk),
                actor=actor.user,
            )
            for customer in customers
        ]
    )
    label = actor.describe()[:200]
    insert_rows(
        AuditLogEntry,
        [
            AuditLogEntry(
                workspace=workspace,
                actor_user=actor.user,
                actor_token_id=actor.token_id,
                actor_label=label,
                action="customer.create",
                object_type="customer",
                object_id=str(customer.pk),
                customer_id=customer.pk,
                changes=customer_snapshot(customer),
            )
            for customer in customers
        ],
    )
    outbox.emit_many(
        events=[
            OutboxEvent(
                workspace=workspace,
                name="customers.customer.created",
                payload={"customer_id": customer.pk},
            )
            for customer in customers
        ]
    )
