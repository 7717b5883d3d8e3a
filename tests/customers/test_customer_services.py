import datetime as dt

import pytest

from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers import services
from ascolto.customers.models import Activity, AttributeDefinition, Customer, Identity


def test_create_normalises_identities_and_records_everything(workspace, actor):
    customer = services.customer_create(
        workspace=workspace,
        actor=actor,
        name="Dana Levi",
        identities=[("email", " Dana@Example.COM "), ("phone", "+972 50-123-4567")],
    )

    assert sorted(customer.identities.values_list("kind", "value")) == [
        ("email", "dana@example.com"),
        ("phone", "+972501234567"),
    ]
    assert Activity.objects.filter(customer=customer, kind="customer.created").count() == 1
    entry = AuditLogEntry.objects.get(customer_id=customer.pk, action="customer.create")
    assert entry.actor_user == actor.user
    assert OutboxEvent.objects.filter(name="customers.customer.created").count() == 1


def test_identity_is_unique_per_workspace_and_kind(workspace, other_workspace, actor):
    services.customer_create(workspace=workspace, actor=actor, identities=[("email", "a@b.it")])

    with pytest.raises(Conflict, match="already belongs"):
        services.customer_create(workspace=workspace, actor=actor, identities=[("email", "A@B.IT")])
    # Another workspace may know the same person independently.
    other = services.customer_create(
        workspace=other_workspace, actor=actor, identities=[("email", "a@b.it")]
    )
    assert other.identities.get().value == "a@b.it"
    assert Customer.objects.filter(workspace=workspace).count() == 1


def test_failed_create_writes_nothing(workspace, actor):
    with pytest.raises(ValidationFailed):
        services.customer_create(
            workspace=workspace, actor=actor, name="X", identities=[("phone", "not a number")]
        )
    assert Customer.objects.count() == 0
    assert AuditLogEntry.objects.count() == 0


def test_typed_attributes_are_validated_and_coerced(workspace, actor):
    AttributeDefinition.objects.create(
        workspace=workspace, key="loyal", label="Loyal", type="boolean"
    )
    AttributeDefinition.objects.create(
        workspace=workspace, key="visits", label="Visits", type="number"
    )
    AttributeDefinition.objects.create(
        workspace=workspace, key="store", label="Store", type="choice", choices=["roma", "milano"]
    )

    customer = services.customer_create(
        workspace=workspace,
        actor=actor,
        attributes={"loyal": "yes", "visits": "12", "store": "roma"},
    )
    assert customer.attributes == {"loyal": True, "visits": 12, "store": "roma"}

    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_update(
            customer=customer, actor=actor, attributes={"visits": "many", "shoe_size": 42}
        )
    assert set(excinfo.value.field_errors) == {"attributes.visits", "attributes.shoe_size"}

    services.customer_update(customer=customer, actor=actor, attributes={"store": None})
    customer.refresh_from_db()
    assert customer.attributes == {"loyal": True, "visits": 12}


def test_update_records_diff_in_timeline_and_audit(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor, name="Marco")

    services.customer_update(
        customer=customer, actor=actor, name="Marco Bianchi", birthday=dt.date(1990, 5, 17)
    )

    entry = AuditLogEntry.objects.get(action="customer.update")
    assert entry.changes["name"] == ["Marco", "Marco Bianchi"]
    assert entry.changes["birthday"] == [None, "1990-05-17"]
    assert Activity.objects.filter(customer=customer, kind="customer.updated").exists()


def test_update_without_changes_records_nothing(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor, name="Marco")
    services.customer_update(customer=customer, actor=actor, name="Marco")
    assert not AuditLogEntry.objects.filter(action="customer.update").exists()


def test_update_rejects_bad_timezone_and_tier(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor)
    with pytest.raises(ValidationFailed) as excinfo:
        services.customer_update(
            customer=customer, actor=actor, timezone="Mars/Olympus", value_tier="diamond"
        )
    assert set(excinfo.value.field_errors) == {"timezone", "value_tier"}


def test_identity_add_is_idempotent_and_refuses_someone_elses(workspace, actor):
    alice = services.customer_create(workspace=workspace, actor=actor, name="Alice")
    bob = services.customer_create(
        workspace=workspace, actor=actor, name="Bob", identities=[("whatsapp", "+39 333 1234567")]
    )

    first = services.identity_add(
        customer=alice, kind="email", value="alice@example.com", actor=actor
    )
    again = services.identity_add(
        customer=alice, kind="email", value="ALICE@example.com", actor=actor
    )
    assert first.pk == again.pk
    with pytest.raises(Conflict):
        services.identity_add(
            customer=alice, kind="whatsapp", value="whatsapp:+393331234567", actor=actor
        )
    assert Identity.objects.get(kind="whatsapp").customer == bob


def test_get_or_create_by_identity_finds_the_same_person(workspace, actor):
    first, created = services.customer_get_or_create_by_identity(
        workspace=workspace, kind="email", value="Noa@Example.com", actor=actor, name="Noa"
    )
    second, created_again = services.customer_get_or_create_by_identity(
        workspace=workspace, kind="email", value="noa@example.com", actor=actor
    )
    assert created
    assert not created_again
    assert first.pk == second.pk


def test_audit_log_cannot_be_edited(workspace, actor):
    services.customer_create(workspace=workspace, actor=actor, name="X")
    entry = AuditLogEntry.objects.first()
    entry.action = "tampered"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_merged_away_profile_cannot_be_changed(workspace, actor):
    primary = services.customer_create(workspace=workspace, actor=actor, name="A")
    duplicate = services.customer_create(workspace=workspace, actor=actor, name="B")
    services.customer_merge(primary=primary, duplicate=duplicate, actor=actor)
    duplicate.refresh_from_db()
    with pytest.raises(ValidationFailed, match="merged into"):
        services.customer_update(customer=duplicate, actor=actor, name="C")
