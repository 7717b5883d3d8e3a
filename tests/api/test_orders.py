"""Orders over the API: upsert by external id, lists with filters and keyset pagination."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ascolto.customers.models import Activity, Customer, Order, OrderLine
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory, OrderFactory


def order_body(customer_id: int, **overrides: object) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "status": "paid",
        "placed_at": "2025-03-01T10:00:00+01:00",
        "total": "59.80",
        "currency": "eur",
        "metadata": {"channel": "web"},
        "lines": [
            {"sku": "MUG-1", "name": "Mug", "quantity": 2, "unit_price": "19.90"},
            {"name": "Shipping", "quantity": "1", "unit_price": 20},
        ],
        **overrides,
    }


def test_upsert_creates_then_updates_never_duplicates(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    created = api.put("orders/by-external-id/SHOP-1001", order_body(customer.pk))
    updated = api.put(
        "orders/by-external-id/SHOP-1001",
        order_body(customer.pk, status="shipped", lines=None),
    )

    assert created.status_code == 201
    body = created.json()
    assert body["external_id"] == "SHOP-1001"
    assert body["currency"] == "EUR"
    assert body["total"] == "59.80"
    assert body["placed_at"] == "2025-03-01T09:00:00Z"
    assert [(li["name"], li["quantity"], li["line_total"]) for li in body["lines"]] == [
        ("Mug", "2.000", "39.80"),
        ("Shipping", "1.000", "20.00"),
    ]
    assert updated.status_code == 200
    assert updated.json()["id"] == body["id"]
    assert updated.json()["status"] == "shipped"
    assert len(updated.json()["lines"]) == 2  # lines left out are kept
    assert Order.objects.count() == 1
    customer.refresh_from_db()
    assert customer.orders_count == 1
    assert customer.lifetime_spend == Decimal("59.80")
    assert Activity.objects.filter(kind="order.updated").count() == 1


def test_upsert_external_id_with_a_slash(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    response = api.put("orders/by-external-id/2025/0001", order_body(customer.pk))

    assert response.status_code == 201
    assert response.json()["external_id"] == "2025/0001"


def test_upsert_refuses_bad_orders_field_by_field(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    response = api.put(
        "orders/by-external-id/X",
        order_body(
            customer.pk,
            placed_at="2025-03-01T10:00:00",
            total="-1",
            currency="EURO",
            status="lost",
            lines=[{"name": "", "quantity": 0, "unit_price": "1.999"}],
        ),
    )

    errors = assert_problem(response, 422)["errors"]
    assert set(errors) == {
        "placed_at",
        "total",
        "currency",
        "status",
        "lines.0.name",
        "lines.0.quantity",
        "lines.0.unit_price",
    }
    assert not Order.objects.exists()


def test_upsert_with_unknown_customer_is_404_naming_the_field(api):
    body = assert_problem(api.put("orders/by-external-id/X", order_body(987654)), 404)

    assert "customer_id" in body["errors"]


def test_upsert_onto_a_merged_customer_goes_to_the_survivor(api, workspace):
    survivor = CustomerFactory(workspace=workspace)
    merged = CustomerFactory(workspace=workspace, merged_into=survivor)

    response = api.put("orders/by-external-id/M-1", order_body(merged.pk))

    assert response.json()["customer_id"] == survivor.pk


def test_get_order(api, workspace):
    order = OrderFactory(customer=CustomerFactory(workspace=workspace))
    OrderLine.objects.create(order=order, name="Mug", quantity=1, unit_price=Decimal("49.90"))

    body = api.get(f"orders/{order.pk}").json()

    assert body["external_id"] == order.external_id
    assert body["lines"][0]["unit_price"] == "49.90"


def test_list_orders_workspace_wide_with_status_and_keyset(api, workspace):
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    orders = [
        OrderFactory(
            customer=CustomerFactory(workspace=workspace),
            placed_at=base + dt.timedelta(days=i % 3),  # ties on placed_at break by id
            status="delivered" if i % 2 else "paid",
        )
        for i in range(7)
    ]

    seen: list[int] = []
    cursor = None
    while True:
        body = api.get("orders", limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [o["id"] for o in body["items"]]
        cursor = body["next"]
        if not cursor:
            break
    paid = api.get("orders", status="paid").json()["items"]

    expected = sorted(orders, key=lambda o: (o.placed_at, o.pk), reverse=True)
    assert seen == [o.pk for o in expected]
    assert {o["id"] for o in paid} == {o.pk for o in orders if o.status == "paid"}
    assert_problem(api.get("orders", status="lost"), 422)


def test_list_orders_of_one_customer(api, workspace):
    customer = CustomerFactory(workspace=workspace)
    mine = [OrderFactory(customer=customer) for _ in range(2)]
    OrderFactory(customer=CustomerFactory(workspace=workspace))

    body = api.get(f"customers/{customer.pk}/orders").json()

    assert [o["id"] for o in body["items"]] == [o.pk for o in reversed(mine)]
    assert body["next"] is None


def test_orders_move_with_their_customer_on_upsert(api, workspace):
    first, second = CustomerFactory(workspace=workspace), CustomerFactory(workspace=workspace)
    api.put("orders/by-external-id/MOVE", order_body(first.pk))

    api.put("orders/by-external-id/MOVE", order_body(second.pk))

    assert Customer.objects.get(pk=first.pk).orders_count == 0
    assert Customer.objects.get(pk=second.pk).orders_count == 1
