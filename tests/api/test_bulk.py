"""Bulk upserts: up to 1,000 items, idempotent by external id, bad items reported by index."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ascolto.customers.models import Customer, Identity, Order
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory


def test_bulk_customers_create_then_idempotent_resend(api, workspace):
    items = [
        {
            "external_id": f"C-{i}",
            "name": f"Customer {i}",
            "locale": "it",
            "identities": [{"kind": "email", "value": f"c{i}@example.com"}],
        }
        for i in range(5)
    ]

    first = api.post("customers/bulk", {"items": items})
    second = api.post("customers/bulk", {"items": items})

    assert first.status_code == 200
    assert len(first.json()["created"]) == 5
    assert first.json()["updated"] == []
    assert first.json()["errors"] == []
    assert second.json()["created"] == []
    assert second.json()["updated"] == first.json()["created"]
    assert Customer.objects.filter(workspace=workspace).count() == 5
    assert Identity.objects.count() == 5


def test_bulk_customers_updates_only_what_is_sent(api, workspace):
    existing = CustomerFactory(workspace=workspace, external_id="C-1", name="Old", locale="he")

    response = api.post("customers/bulk", {"items": [{"external_id": "C-1", "name": "New"}]})

    assert response.json()["updated"] == [existing.pk]
    existing.refresh_from_db()
    assert (existing.name, existing.locale) == ("New", "he")


def test_bulk_customers_with_bad_items(api, workspace):
    CustomerFactory(workspace=workspace, external_id="OWNER").identities.create(
        workspace=workspace, kind="email", value="taken@example.com"
    )
    items = [
        {"external_id": "OK-1", "name": "Fine"},
        {"external_id": "BAD-TYPE", "birthday": "not a date"},  # fails the schema
        {"name": "no external id"},  # fails the schema
        {"external_id": "OK-2"},
        {"external_id": "BAD-TZ", "timezone": "Nowhere/Land"},  # fails in the service
        "not even an object",
        {"external_id": "BAD-ID", "identities": [{"kind": "email", "value": "TAKEN@example.com"}]},
        {"external_id": "OK-3", "value_tier": "gold"},
    ]

    response = api.post("customers/bulk", {"items": items})

    assert response.status_code == 200
    body = response.json()
    assert len(body["created"]) == 3
    errors = {e["index"]: e for e in body["errors"]}
    assert list(errors) == [1, 2, 4, 5, 6]
    assert "birthday" in errors[1]["errors"]
    assert "external_id" in errors[2]["errors"]
    assert "timezone" in errors[4]["errors"]
    assert "item" in errors[5]["errors"]
    assert "identities" in errors[6]["errors"]
    assert all(e["detail"] for e in body["errors"])
    written = set(
        Customer.objects.exclude(external_id="OWNER").values_list("external_id", flat=True)
    )
    assert written == {"OK-1", "OK-2", "OK-3"}


def test_bulk_over_the_limit_is_422_and_writes_nothing(api, settings):
    items = [{"external_id": f"C-{i}"} for i in range(settings.ASCOLTO_BULK_LIMIT + 1)]

    body = assert_problem(api.post("customers/bulk", {"items": items}), 422)

    assert "items" in body["errors"]
    assert not Customer.objects.exists()
    orders = [{"external_id": f"O-{i}"} for i in range(settings.ASCOLTO_BULK_LIMIT + 1)]
    assert "items" in assert_problem(api.post("orders/bulk", {"items": orders}), 422)["errors"]


@pytest.mark.slow
def test_bulk_of_exactly_the_limit_is_accepted(api, workspace, settings):
    items = [{"external_id": f"C-{i}"} for i in range(settings.ASCOLTO_BULK_LIMIT)]

    response = api.post("customers/bulk", {"items": items})

    assert len(response.json()["created"]) == settings.ASCOLTO_BULK_LIMIT


def test_bulk_body_must_have_items(api):
    assert "items" in assert_problem(api.post("customers/bulk", {}), 422)["errors"]
    assert "items" in assert_problem(api.post("orders/bulk", {"items": "x"}), 422)["errors"]


def order_item(external_id: str, customer: str, **overrides: object) -> dict[str, object]:
    return {
        "external_id": external_id,
        "customer_external_id": customer,
        "status": "delivered",
        "placed_at": "2025-02-01T12:00:00Z",
        "total": "25.00",
        "currency": "EUR",
        **overrides,
    }


def test_bulk_orders_create_resend_and_report_bad_items(api, workspace):
    alice = CustomerFactory(workspace=workspace, external_id="ALICE")
    items = [
        order_item("O-1", "ALICE"),
        order_item("O-2", "NOBODY"),
        order_item("O-3", "ALICE", total="abc"),
        order_item("O-4", "ALICE", lines=[{"name": "Mug", "quantity": 1, "unit_price": "25"}]),
    ]

    first = api.post("orders/bulk", {"items": items}).json()
    second = api.post("orders/bulk", {"items": items}).json()

    assert len(first["created"]) == 2
    assert [e["index"] for e in first["errors"]] == [1, 2]
    assert "customer_external_id" in first["errors"][0]["errors"]
    assert "total" in first["errors"][1]["errors"]
    assert second["created"] == []
    assert second["updated"] == first["created"]
    assert Order.objects.count() == 2
    alice.refresh_from_db()
    assert alice.orders_count == 2
    assert alice.lifetime_spend == Decimal("50.00")
