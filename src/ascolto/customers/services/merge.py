"""Customer merge: two profiles of one person become one, and nothing is lost."""

from __future__ import annotations

from typing import Any

from django.db import models

from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import (
    Activity,
    Consent,
    Customer,
    CustomerMerge,
    Identity,
)
from ascolto.customers.services.customers import activity_record, customer_snapshot
from ascolto.customers.services.orders import customer_refresh_stats


def customer_merge(*, primary: Customer, duplicate: Customer, actor: Actor) -> CustomerMerge:
    """Move everything of `duplicate` onto `primary` and mark `duplicate` as merged into it.

    Every row that points at a customer moves, including rows of apps that arrive later (found
    through the model relations, so no app has to remember to register). The primary's profile
    wins; its blanks are filled from the duplicate. For consent, the more recent decision per
    purpose and channel wins, and both histories are kept. Precondition: the caller holds the
    transaction; both customers must be of one workspace and not merged already.
    """
    if primary.pk == duplicate.pk:
        raise ValidationFailed("A customer cannot be merged into itself.")
    if primary.workspace_id != duplicate.workspace_id:
        raise ValidationFailed("Customers of different workspaces cannot be merged.")
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update().filter(pk__in=[primary.pk, duplicate.pk])
    }
    primary, duplicate = locked[primary.pk], locked[duplicate.pk]
    if primary.merged_into_id or duplicate.merged_into_id:
        raise ValidationFailed("One of these customers was already merged.")

    snapshot = customer_snapshot(duplicate)
    snapshot["identities"] = [
        [i.kind, i.value] for i in Identity.objects.filter(customer=duplicate)
    ]
    moved: dict[str, int] = {}
    moved["consents"] = _merge_consents(primary, duplicate)
    moved["identities"] = Identity.objects.filter(customer=duplicate).update(
        customer=primary, is_primary=False
    )
    for relation in Customer._meta.related_objects:
        if relation.related_model in (Consent, Identity, Customer, CustomerMerge):
            continue
        if not isinstance(relation, models.ManyToOneRel) or relation.many_to_many:
            continue
        model: Any = relation.related_model
        count = model._default_manager.filter(**{relation.field.name: duplicate}).update(
            **{relation.field.name: primary}
        )
        if count:
            moved[model._meta.label_lower] = count

    _fill_blanks(primary, duplicate)
    external_id = duplicate.external_id
    duplicate.merged_into = primary
    duplicate.external_id = None
    duplicate.save(update_fields=["merged_into", "external_id", "updated_at"])
    if not primary.external_id and external_id:
        primary.external_id = external_id
    primary.save()
    customer_refresh_stats(customer_ids=[primary.pk, duplicate.pk])

    merge = CustomerMerge.objects.create(
        workspace_id=primary.workspace_id,
        primary=primary,
        merged_customer_id=duplicate.pk,
        snapshot=snapshot,
        moved=moved,
        actor_label=actor.describe()[:200],
    )
    activity_record(
        customer=primary,
        kind=Activity.Kind.CUSTOMER_MERGED,
        title=f"Merged with {duplicate.name or '#' + str(duplicate.pk)}",
        data={"merged_customer_id": duplicate.pk, "moved": moved},
        actor=actor,
        source_type="customer_merge",
        source_id=str(merge.pk),
    )
    audit_record(
        workspace=primary.workspace,
        actor=actor,
        action="customer.merge",
        object_type="customer",
        object_id=primary.pk,
        customer_id=primary.pk,
        changes={"merged_customer_id": duplicate.pk, "moved": moved},
    )
    audit_record(
        workspace=primary.workspace,
        actor=actor,
        action="customer.merged_away",
        object_type="customer",
        object_id=duplicate.pk,
        customer_id=duplicate.pk,
        changes={"merged_into": primary.pk},
    )
    outbox.emit(
        workspace=primary.workspace,
        name="customers.customer.merged",
        payload={"customer_id": primary.pk, "merged_customer_id": duplicate.pk},
    )
    realtime.publish_on_commit(
        workspace_id=primary.workspace_id,
        event="customers.customer.merged",
        payload={"customer_id": primary.pk, "merged_customer_id": duplicate.pk},
    )
    return merge


def _merge_consents(primary: Customer, duplicate: Customer) -> int:
    mine = {(c.purpose, c.channel): c for c in Consent.objects.filter(customer=primary)}
    moved = 0
    for consent in Consent.objects.filter(customer=duplicate):
        current = mine.get((consent.purpose, consent.channel))
        if current is None:
            consent.customer = primary
            consent.save(update_fields=["customer", "updated_at"])
            moved += 1
        elif consent.recorded_at > current.recorded_at:
            current.granted, current.source = consent.granted, consent.source
            current.recorded_at = consent.recorded_at
            current.save(update_fields=["granted", "source", "recorded_at", "updated_at"])
            consent.delete()
            moved += 1
        else:
            consent.delete()
    return moved


def _fill_blanks(primary: Customer, duplicate: Customer) -> None:
    for name in ("name", "locale", "timezone", "birthday", "value_tier", "organization"):
        if not getattr(primary, name) and getattr(duplicate, name):
            setattr(primary, name, getattr(duplicate, name))
    primary.attributes = {**duplicate.attributes, **primary.attributes}
    if primary.last_activity_at is None or (
        duplicate.last_activity_at and duplicate.last_activity_at > primary.last_activity_at
    ):
        primary.last_activity_at = duplicate.last_activity_at
