import datetime as dt
from decimal import Decimal

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.core.models import AuditLogEntry
from ascolto.customers import selectors, services
from ascolto.customers.models import (
    Activity,
    Consent,
    ConsentChange,
    Customer,
    CustomerMerge,
    Identity,
    Order,
)

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def make_pair(workspace, actor):
    primary = services.customer_create(
        workspace=workspace,
        actor=actor,
        name="Yael Cohen",
        external_id="shop-1",
        identities=[("email", "yael@example.com")],
    )
    duplicate = services.customer_create(
        workspace=workspace,
        actor=actor,
        name="",
        external_id="crm-9",
        locale="he",
        identities=[("whatsapp", "+972 52 555 1234"), ("web", "visitor-77")],
    )
    services.order_upsert(
        workspace=workspace,
        customer=duplicate,
        actor=actor,
        data=services.OrderInput(
            external_id="O-1", placed_at=T0, total=Decimal("80"), currency="EUR"
        ),
    )
    services.consent_set(
        customer=primary,
        purpose="marketing",
        channel="email",
        granted=True,
        actor=actor,
        recorded_at=T0,
    )
    services.consent_set(
        customer=duplicate,
        purpose="marketing",
        channel="email",
        granted=False,
        actor=actor,
        recorded_at=T0 + dt.timedelta(days=1),
    )
    services.consent_set(
        customer=duplicate,
        purpose="surveys",
        channel="any",
        granted=True,
        actor=actor,
        recorded_at=T0,
    )
    return primary, duplicate


def test_merge_moves_everything_and_loses_nothing(workspace, actor):
    primary, duplicate = make_pair(workspace, actor)
    activities_before = Activity.objects.filter(customer__in=[primary, duplicate]).count()
    changes_before = ConsentChange.objects.count()

    merge = services.customer_merge(primary=primary, duplicate=duplicate, actor=actor)

    primary.refresh_from_db()
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == primary.pk
    assert sorted(Identity.objects.filter(customer=primary).values_list("value", flat=True)) == [
        "+972525551234",
        "visitor-77",
        "yael@example.com",
    ]
    assert Order.objects.get().customer_id == primary.pk
    assert primary.orders_count == 1
    assert primary.lifetime_spend == Decimal("80")
    # The more recent consent decision wins; the whole history stays.
    assert dict(Consent.objects.filter(customer=primary).values_list("purpose", "granted")) == {
        "marketing": False,
        "surveys": True,
    }
    assert ConsentChange.objects.count() == changes_before
    assert ConsentChange.objects.filter(customer=duplicate).count() == 0
    # Timeline: everything moved, plus the merge entry itself.
    assert Activity.objects.filter(customer=primary).count() == activities_before + 1
    # Blanks filled from the duplicate; the primary's values win.
    assert primary.name == "Yael Cohen"
    assert primary.locale == "he"
    assert merge.snapshot["external_id"] == "crm-9"
    assert ["whatsapp", "+972525551234"] in merge.snapshot["identities"]
    assert CustomerMerge.objects.get().merged_customer_id == duplicate.pk
    assert AuditLogEntry.objects.filter(action="customer.merge", customer_id=primary.pk).exists()
    assert [m.pk for m in selectors.merges_of(customer=primary)] == [merge.pk]


def test_merged_customer_leaves_lists_and_resolves_to_primary(workspace, actor):
    primary, duplicate = make_pair(workspace, actor)
    services.customer_merge(primary=primary, duplicate=duplicate, actor=actor)

    listed = selectors.customer_list(workspace=workspace).items
    assert [c.pk for c in listed] == [primary.pk]
    resolved = selectors.customer_get(
        workspace=workspace, customer_id=duplicate.pk, follow_merge=True
    )
    assert resolved.pk == primary.pk


def test_merge_takes_external_id_when_primary_has_none(workspace, actor):
    primary = services.customer_create(workspace=workspace, actor=actor, name="A")
    duplicate = services.customer_create(workspace=workspace, actor=actor, external_id="ext-1")
    services.customer_merge(primary=primary, duplicate=duplicate, actor=actor)
    primary.refresh_from_db()
    assert primary.external_id == "ext-1"
    assert Customer.objects.get(pk=duplicate.pk).external_id is None


def test_merge_refuses_self_foreign_and_repeated(workspace, other_workspace, actor):
    a = services.customer_create(workspace=workspace, actor=actor)
    b = services.customer_create(workspace=workspace, actor=actor)
    foreign = services.customer_create(workspace=other_workspace, actor=actor)
    with pytest.raises(ValidationFailed):
        services.customer_merge(primary=a, duplicate=a, actor=actor)
    with pytest.raises(ValidationFailed):
        services.customer_merge(primary=a, duplicate=foreign, actor=actor)
    services.customer_merge(primary=a, duplicate=b, actor=actor)
    with pytest.raises(ValidationFailed):
        services.customer_merge(primary=a, duplicate=b, actor=actor)
