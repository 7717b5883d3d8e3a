"""Writes for customers, identities, organizations, consent and the activity timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record, diff
from ascolto.core.bulkinsert import insert_rows
from ascolto.core.bulkupdate import update_rows
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.models import (
    Activity,
    AttributeDefinition,
    Consent,
    ConsentChange,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    Identity,
    Organization,
    ValueTier,
)
from ascolto.customers.normalize import normalize_identity, validate_attributes

PROFILE_FIELDS = ("name", "locale", "timezone", "birthday", "value_tier", "external_id")


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "external_id": customer.external_id,
        "locale": customer.locale,
        "timezone": customer.timezone,
        "birthday": customer.birthday.isoformat() if customer.birthday else None,
        "value_tier": customer.value_tier,
        "organization_id": customer.organization_id,
        "attributes": customer.attributes,
    }


def attribute_definitions(workspace: Workspace) -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.filter(workspace=workspace)}


def _validate_profile(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    tier = fields.get("value_tier")
    if tier is not None and tier not in ValueTier.values:
        errors["value_tier"] = [f"Choose one of: {', '.join(v for v in ValueTier.values if v)}."]
    tz = fields.get("timezone")
    if tz:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = ["Unknown time zone; use an IANA name such as Europe/Rome."]
    if fields.get("name") is not None and len(fields["name"]) > 200:
        errors["name"] = ["At most 200 characters."]
    birthday = fields.get("birthday")
    if birthday is not None and not isinstance(birthday, dt.date):
        errors["birthday"] = ["Expected a date (YYYY-MM-DD)."]
    if errors:
        raise ValidationFailed("The customer is not valid.", field_errors=errors)


def customer_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str = "",
    external_id: str | None = None,
    locale: str = "",
    timezone_name: str = "",
    birthday: dt.date | None = None,
    attributes: dict[str, Any] | None = None,
    value_tier: str = "",
    organization: Organization | None = None,
    identities: list[tuple[str, str]] | None = None,
) -> Customer:
    """Create a customer with its identities. Raises Conflict when an identity or the external
    id already belongs to another customer of the workspace."""
    _validate_profile(
        {"name": name, "value_tier": value_tier, "timezone": timezone_name, "birthday": birthday}
    )
    # Most customers are created without attributes (a visitor's first message, an email from
    # someone new): their definitions are read only when there is something to check.
    definitions = attribute_definitions(workspace) if attributes else {}
    clean_attrs = {
        k: v for k, v in validate_attributes(attributes or {}, definitions).items() if v is not None
    }
    normalized = _normalized_identities(identities or [])
    _ensure_identities_free(workspace, normalized, customer=None)
    if (
        external_id
        and Customer.objects.filter(workspace=workspace, external_id=external_id).exists()
    ):
        raise Conflict(
            f"A customer with external id {external_id!r} already exists.",
            field_errors={"external_id": ["Already used by another customer."]},
        )
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                workspace=workspace,
                name=name,
                external_id=external_id or None,
                locale=locale,
                timezone=timezone_name,
                birthday=birthday,
                attributes=clean_attrs,
                value_tier=value_tier,
                organization=organization,
            )
            for index, (kind, value) in enumerate(normalized):
                Identity.objects.create(
                    workspace=workspace,
                    customer=customer,
                    kind=kind,
                    value=value,
                    is_primary=index == 0,
                )
    except IntegrityError as exc:  # a concurrent writer took the same handle
        raise Conflict("An identity or external id of this customer is already taken.") from exc
    activity_record(
        customer=customer,
        kind=Activity.Kind.CUSTOMER_CREATED,
        title="Customer created",
        actor=actor,
        source_type="customer",
        source_id=str(customer.pk),
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="customer.create",
        object_type="customer",
        object_id=customer.pk,
        customer_id=customer.pk,
        changes=customer_snapshot(customer),
    )
    outbox.emit(
        workspace=workspace, name="customers.customer.created", payload={"customer_id": customer.pk}
    )
    return customer


def customer_update(*, customer: Customer, actor: Actor, **fields: Any) -> Customer:
    """Change profile fields (any of PROFILE_FIELDS, `attributes`, `organization`).

    Attributes are merged key by key; a null value removes one.
    """
    if customer.merged_into_id is not None:
        raise ValidationFailed(
            f"Customer #{customer.pk} was merged into customer #{customer.merged_into_id}; "
            "change that profile instead."
        )
    unknown = set(fields) - {*PROFILE_FIELDS, "attributes", "organization"}
    if unknown:
        raise ValidationFailed(f"Unknown customer fields: {', '.join(sorted(unknown))}.")
    _validate_profile(fields)
    before = customer_snapshot(customer)
    if "attributes" in fields:
        clean = validate_attributes(
            fields.pop("attributes") or {}, attribute_definitions(customer.workspace)
        )
        merged = {**customer.attributes, **clean}
        customer.attributes = {k: v for k, v in merged.items() if v is not None}
    new_external = fields.get("external_id")
    if (
        new_external
        and new_external != customer.external_id
        and Customer.objects.filter(workspace_id=customer.workspace_id, external_id=new_external)
        .exclude(pk=customer.pk)
        .exists()
    ):
        raise Conflict(
            f"A customer with external id {new_external!r} already exists.",
            field_errors={"external_id": ["Already used by another customer."]},
        )
    for key, value in fields.items():
        attr = "timezone" if key == "timezone" else key
        setattr(customer, attr, value if key != "external_id" else (value or None))
    customer.save()
    changes = diff(before, customer_snapshot(customer))
    if changes:
        activity_record(
            customer=customer,
            kind=Activity.Kind.CUSTOMER_UPDATED,
            title="Profile updated",
            body=", ".join(sorted(changes)),
            data={"changes": changes},
            actor=actor,
            source_type="customer",
            source_id=str(customer.pk),
        )
        audit_record(
            workspace=customer.workspace,
            actor=actor,
            action="customer.update",
            object_type="customer",
            object_id=customer.pk,
            customer_id=customer.pk,
            changes=changes,
        )
        outbox.emit(
            workspace=customer.workspace,
            name="customers.customer.updated",
            payload={"customer_id": customer.pk, "fields": sorted(changes)},
        )
        realtime.publish_on_commit(
            workspace_id=customer.workspace_id,
            event="customers.customer.updated",
            payload={"customer_id": customer.pk},
        )
    return customer


def _normalized_identities(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for kind, value in pairs:
        pair = (kind, normalize_identity(kind, value))
        if pair not in seen:
            seen.append(pair)
    return seen


def _ensure_identities_free(
    workspace: Workspace, pairs: list[tuple[str, str]], *, customer: Customer | None
) -> None:
    for kind, value in pairs:
        owner = (
            Identity.objects.filter(workspace=workspace, kind=kind, value=value)
            .values_list("customer_id", flat=True)
            .first()
        )
        if owner is not None and (customer is None or owner != customer.pk):
            raise Conflict(
                f"{kind} {value} already belongs to customer #{owner}; merge the two profiles "
                "instead.",
                field_errors={"identities": [f"{kind}:{value} is taken by customer #{owner}."]},
            )


def identity_add(
    *, customer: Customer, kind: str, value: str, actor: Actor, verified: bool = False
) -> Identity:
    """Attach a handle to a customer; adding one it already has is a no-op that returns it."""
    normalized = normalize_identity(kind, value)
    existing = Identity.objects.filter(
        workspace_id=customer.workspace_id, kind=kind, value=normalized
    ).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise Conflict(
                f"{kind} {normalized} already belongs to customer #{existing.customer_id}; merge "
                "the two profiles instead.",
                field_errors={"value": ["Already used by another customer."]},
            )
        return existing
    identity = Identity.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        kind=kind,
        value=normalized,
        verified=verified,
        is_primary=not customer.identities.filter(kind=kind).exists(),
    )
    activity_record(
        customer=customer,
        kind=Activity.Kind.IDENTITY_ADDED,
        title=f"{identity.get_kind_display()}: {normalized}",
        actor=actor,
        source_type="identity",
        source_id=str(identity.pk),
    )
    audit_record(
        workspace=customer.workspace,
        actor=actor,
        action="identity.add",
        object_type="identity",
        object_id=identity.pk,
        customer_id=customer.pk,
        changes={"kind": kind, "value": normalized},
    )
    return identity


def identity_remove(*, identity: Identity, actor: Actor) -> None:
    audit_record(
        workspace=identity.workspace,
        actor=actor,
        action="identity.remove",
        object_type="identity",
        object_id=identity.pk,
        customer_id=identity.customer_id,
        changes={"kind": identity.kind, "value": identity.value},
    )
    identity.delete()


def customer_get_or_create_by_identity(
    *,
    workspace: Workspace,
    kind: str,
    value: str,
    actor: Actor,
    name: str = "",
    locale: str = "",
) -> tuple[Customer, bool]:
    """The customer who owns a handle, created when nobody does. For channel adapters."""
    normalized = normalize_identity(kind, value)
    identity = (
        Identity.objects.select_related("customer")
        .filter(workspace=workspace, kind=kind, value=normalized)
        .first()
    )
    if identity is not None:
        return identity.customer, False
    try:
        with transaction.atomic():
            customer = customer_create(
                workspace=workspace,
                actor=actor,
                name=name,
                locale=locale,
                identities=[(kind, normalized)],
            )
    except Conflict:
        identity = Identity.objects.select_related("customer").get(
            workspace=workspace, kind=kind, value=normalized
        )
        return identity.customer, False
    return customer, True


def organization_upsert(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    external_id: str | None = None,
    domain: str = "",
) -> Organization:
    if not name.strip():
        raise ValidationFailed(
            "An organization needs a name.", field_errors={"name": ["Required."]}
        )
    organization = None
    if external_id:
        organization = Organization.objects.filter(
            workspace=workspace, external_id=external_id
        ).first()
    if organization is None:
        organization = Organization.objects.create(
            workspace=workspace, name=name.strip(), external_id=external_id or None, domain=domain
        )
        action = "organization.create"
    else:
        organization.name, organization.domain = name.strip(), domain or organization.domain
        organization.save()
        action = "organization.update"
    audit_record(
        workspace=workspace,
        actor=actor,
        action=action,
        object_type="organization",
        object_id=organization.pk,
        changes={"name": organization.name},
    )
    return organization


def consent_set(
    *,
    customer: Customer,
    purpose: str,
    channel: str,
    granted: bool,
    actor: Actor,
    source: str = "",
    recorded_at: dt.datetime | None = None,
) -> Consent:
    """Record a grant or revocation; history is kept in ConsentChange, the state in Consent."""
    errors: dict[str, list[str]] = {}
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [f"Choose one of: {', '.join(ConsentPurpose.values)}."]
    if channel not in ConsentChannel.values:
        errors["channel"] = [f"Choose one of: {', '.join(ConsentChannel.values)}."]
    if errors:
        raise ValidationFailed("The consent is not valid.", field_errors=errors)
    when = recorded_at or timezone.now()
    ConsentChange.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source[:120],
        recorded_at=when,
        actor_label=actor.describe()[:200],
    )
    consent, _ = Consent.objects.update_or_create(
        customer=customer,
        purpose=purpose,
        channel=channel,
        defaults={
            "workspace_id": customer.workspace_id,
            "granted": granted,
            "source": source[:120],
            "recorded_at": when,
        },
    )
    verb = "granted" if granted else "revoked"
    activity_record(
        customer=customer,
        kind=Activity.Kind.CONSENT_CHANGED,
        title=f"Consent {verb}: {purpose} / {channel}",
        data={"purpose": purpose, "channel": channel, "granted": granted, "source": source},
        actor=actor,
        occurred_at=when,
        source_type="consent",
        source_id=str(consent.pk),
    )
    audit_record(
        workspace=customer.workspace,
        actor=actor,
        action=f"consent.{verb}",
        object_type="consent",
        object_id=consent.pk,
        customer_id=customer.pk,
        changes={"purpose": purpose, "channel": channel, "granted": granted, "source": source},
    )
    outbox.emit(
        workspace=customer.workspace,
        name="customers.consent.changed",
        payload={
            "customer_id": customer.pk,
            "purpose": purpose,
            "channel": channel,
            "granted": granted,
        },
    )
    return consent


def activity_record(
    *,
    customer: Customer,
    kind: str,
    title: str,
    actor: Actor | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    source_type: str = "",
    source_id: str = "",
) -> Activity:
    """Add an entry to the customer's timeline. Other apps call this for their interactions."""
    when = occurred_at or timezone.now()
    activity = Activity.objects.create(
        workspace_id=customer.workspace_id,
        customer=customer,
        kind=kind,
        title=title[:300],
        body=body,
        data=data or {},
        occurred_at=when,
        source_type=source_type,
        source_id=source_id,
        actor=actor.user if actor else None,
    )
    Customer.objects.filter(pk=customer.pk).exclude(last_activity_at__gt=when).update(
        last_activity_at=when
    )
    realtime.publish_on_commit(
        workspace_id=customer.workspace_id,
        event="customers.activity.created",
        payload={"customer_id": customer.pk, "activity_id": activity.pk, "kind": kind},
    )
    return activity


def activities_record(*, activities: list[Activity]) -> list[Activity]:
    """`activity_record` for many entries at once (a batch of survey answers): one insert, one
    update of the customers' last activity, a push per entry after commit. The entries are
    unsaved Activity rows with workspace, customer, kind, title and occurred_at set."""
    if not activities:
        return []
    for activity in activities:
        activity.title = activity.title[:300]
    created = insert_rows(Activity, activities)
    latest: dict[int, dt.datetime] = {}
    for activity in created:
        when = latest.get(activity.customer_id)
        if when is None or activity.occurred_at > when:
            latest[activity.customer_id] = activity.occurred_at
    update_rows(
        Customer,
        [Customer(pk=pk, last_activity_at=when) for pk, when in sorted(latest.items())],
        ["last_activity_at"],
        only_if_newer="last_activity_at",
    )
    realtime.publish_many_on_commit(
        events=[
            (
                activity.workspace_id,
                "customers.activity.created",
                {
                    "customer_id": activity.customer_id,
                    "activity_id": activity.pk,
                    "kind": activity.kind,
                },
            )
            for activity in created
        ]
    )
    return created
