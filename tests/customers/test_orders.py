import datetime as dt
from decimal import Decimal

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.customers import services
from ascolto.customers.models import Activity, Order

PLACED = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)


def order_input(external_id="A-1", total="100.00", status="paid", **extra):
    return services.OrderInput(
        external_id=external_id,
        placed_at=PLACED,
        total=Decimal(total),
        currency="EUR",
        status=status,
        **extra,
    )


def test_upsert_by_external_id_updates_and_never_duplicates(workspace, actor):
    customer = services.customer_create(workspace=workspace, actor=actor, name="Sara")

    order, created = services.order_upsert(
        workspace=workspace, customer=customer, data=order_input(), actor=actor
    )
    again, created_again = services.order_upsert(
        workspace=workspace, customer=customer, data=order_input(status="shipped"), actor=actor
    )

    assert created
    assert not created_again
    assert order.pk == again.pk
    assert Order.objects.count() == 1
    assert Order.objects.get().status == "shipped"
    change = Activity.objects.get(kind="order.updated")
    assert change.data["from"] == "paid"
    assert change.data["to"] == "shipped"
    assert list(
        OutboxEvent.objects.filter(name__startswith="customers.order")
        .values_list("name", flat=True)
        .order_by("id")
    ) == [
        "customers.order.created",
        "customers.order.updated",
    ]


def test_lines_replace_and_stats_follow_the_orders(workspace, actor):
    workspace.default_currency = "EUR"
    workspace.save()
    customer = services.customer_create(workspace=workspace, actor=actor)
    lines = [
        services.OrderLineInput(name="Caffè", quantity=Decimal(2), unit_price=Decimal("7.50")),
        services.OrderLineInput(name="Tazza", quantity=Decimal(1), unit_price=Decimal("12.00")),
    ]
    services.order_upsert(
        workspace=workspace,
        customer=customer,
        data=order_input(total="27.00", lines=lines),
        actor=actor,
    )
    services.order_upsert(
        workspace=workspace, customer=customer, data=order_input("A-2", total="10.00"), actor=actor
    )
    services.order_upsert(
        workspace=workspace,
        customer=customer,
        data=order_input("A-3", total="99.00", status="cancelled"),
        actor=actor,
    )
    customer.refresh_from_db()
    assert customer.lifetime_spend == Decimal("37.00")
    assert customer.orders_count == 3
    assert Order.objects.get(external_id="A-1").lines.count() == 2

    services.order_upsert(
        workspace=workspace,
        customer=customer,
        data=order_input(total="27.00", lines=[lines[0]]),
        actor=actor,
    )
    assert Order.objects.get(external_id="A-1").lines.count() == 1


def test_moving_an_order_to_another_customer_refreshes_both(workspace, actor):
    a = services.customer_create(workspace=workspace, actor=actor)
    b = services.customer_create(workspace=workspace, actor=actor)
    services.order_upsert(workspace=workspace, customer=a, data=order_input(), actor=actor)
    services.order_upsert(workspace=workspace, customer=b, data=order_input(), actor=actor)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.orders_count, b.orders_count) == (0, 1)
    assert a.lifetime_spend == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total": Decimal("-1")}, "total"),
        ({"currency": "EURO"}, "currency"),
        ({"status": "lost"}, "status"),
        ({"placed_at": dt.datetime(2025, 1, 1)}, "placed_at"),  # naive: ambiguous
        ({"external_id": ""}, "external_id"),
    ],
)
def test_invalid_orders_are_refused_with_the_field(workspace, actor, changes, field):
    customer = services.customer_create(workspace=workspace, actor=actor)
    data = order_input()
    for key, value in changes.items():
        setattr(data, key, value)
    with pytest.raises(ValidationFailed) as excinfo:
        services.order_upsert(workspace=workspace, customer=customer, data=data, actor=actor)
    assert field in excinfo.value.field_errors
    assert Order.objects.count() == 0


def test_order_for_customer_of_another_workspace_is_refused(workspace, other_workspace, actor):
    stranger = services.customer_create(workspace=other_workspace, actor=actor)
    with pytest.raises(ValidationFailed):
        services.order_upsert(
            workspace=workspace, customer=stranger, data=order_input(), actor=actor
        )
