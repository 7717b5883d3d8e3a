"""Customers, identities, organizations, merge, consent, timeline and audit over the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ascolto.accounts.models import ApiToken
from ascolto.core.models import AuditLogEntry
from ascolto.customers.models import AttributeDefinition, Customer, Identity, Organization
from tests.api.conftest import assert_problem
from tests.customers.factories import (
    ActivityFactory,
    CustomerFactory,
    IdentityFactory,
    OrderFactory,
)


def test_create_customer(api, workspace):
    org = Organization.objects.create(workspace=workspace, name="Trattoria Roma")
    AttributeDefinition.objects.create(workspace=workspace, key="vip", label="VIP", type="boolean")

    response = api.post(
        "customers",
        {
            "name": "Dana Levi",
            "external_id": "SHOP-1",
            "locale": "he",
            "timezone": "Asia/Jerusalem",
            "birthday": "1990-04-01",
            "value_tier": "gold",
            "attributes": {"vip": "yes"},
            "organization_id": org.pk,
            "identities": [
                {"kind": "email", "value": " Dana@Example.COM "},
                {"kind": "phone", "value": "+972 50-123-4567"},
            ],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Dana Levi"
    assert body["attributes"] == {"vip": True}
    assert body["organization"] == {"id": org.pk, "name": "Trattoria Roma"}
    assert sorted((i["kind"], i["value"]) for i in body["identities"]) == [
        ("email", "dana@example.com"),
        ("phone", "+972501234567"),
    ]
    assert body["last_activity_at"] is not None
    customer = Customer.objects.get(pk=body["id"])
    assert customer.workspace == workspace
    audit = AuditLogEntry.objects.get(action="customer.create")
    assert audit.actor_token_id == ApiToken.objects.get().pk


def test_get_customer_with_spend_per_currency(api, workspace):
    customer = CustomerFactory(workspace=workspace)
    IdentityFactory(customer=customer)
    OrderFactory(customer=customer, total=Decimal("10.50"), currency="EUR")
    OrderFactory(customer=customer, total=Decimal("4.50"), currency="EUR")
    OrderFactory(customer=customer, total=Decimal("99.00"), currency="ILS")
    OrderFactory(customer=customer, total=Decimal("500.00"), currency="EUR", status="cancelled")

    body = api.get(f"customers/{customer.pk}").json()

    assert body["id"] == customer.pk
    assert len(body["identities"]) == 1
    assert body["spend"] == [
        {"currency": "ILS", "amount": "99.00", "orders": 1},
        {"currency": "EUR", "amount": "15.00", "orders": 2},
    ]


def test_list_customers_filters(api, workspace):
    org = Organization.objects.create(workspace=workspace, name="Acme")
    dana = CustomerFactory(
        workspace=workspace, name="Dana Levi", value_tier="gold", organization=org
    )
    IdentityFactory(customer=dana, value="dana@example.com")
    marco = CustomerFactory(workspace=workspace, name="Marco Bianchi", orders_count=2)
    merged = CustomerFactory(workspace=workspace, name="Dana L.", merged_into=dana)

    def names(**params: object) -> list[str]:
        response = api.get("customers", **params)
        assert response.status_code == 200
        return [c["name"] for c in response.json()["items"]]

    assert names() == ["Marco Bianchi", "Dana Levi"]
    assert merged.name not in names(search="Dana")
    assert names(search="dana@EXAMPLE") == ["Dana Levi"]
    assert names(search=marco.external_id) == ["Marco Bianchi"]
    assert names(value_tier="gold") == ["Dana Levi"]
    assert names(organization_id=org.pk) == ["Dana Levi"]
    assert names(has_orders="true") == ["Marco Bianchi"]
    assert names(has_orders="false") == ["Dana Levi"]


def test_list_customers_keyset_pagination(api, workspace):
    ids = [CustomerFactory(workspace=workspace).pk for _ in range(5)]

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("customers", **params).json()
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break

    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_update_customer(api, workspace):
    AttributeDefinition.objects.create(workspace=workspace, key="plan", label="Plan")
    AttributeDefinition.objects.create(
        workspace=workspace, key="seats", label="Seats", type="number"
    )
    org = Organization.objects.create(workspace=workspace, name="Acme")
    customer = CustomerFactory(
        workspace=workspace, name="Dana", locale="en", attributes={"plan": "pro", "seats": 3}
    )

    response = api.patch(
        f"customers/{customer.pk}",
        {
            "name": "Dana Levi",
            "attributes": {"seats": None, "plan": "team"},
            "organization_id": org.pk,
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Dana Levi"
    assert body["locale"] == "en"
    assert body["attributes"] == {"plan": "team"}
    assert body["organization"]["id"] == org.pk
    audit = AuditLogEntry.objects.get(action="customer.update")
    assert set(audit.changes) == {"name", "attributes", "organization_id"}


def test_update_clears_nullable_fields_and_refuses_null_for_the_others(api, workspace):
    customer = CustomerFactory(workspace=workspace, birthday=dt.date(1990, 1, 1))

    cleared = api.patch(f"customers/{customer.pk}", {"birthday": None, "external_id": None})
    refused = api.patch(f"customers/{customer.pk}", {"name": None})

    assert cleared.status_code == 200
    assert cleared.json()["birthday"] is None
    assert cleared.json()["external_id"] is None
    assert "name" in assert_problem(refused, 422)["errors"]
    customer.refresh_from_db()
    assert customer.name != ""


def test_update_to_an_external_id_in_use_is_409(api, workspace):
    CustomerFactory(workspace=workspace, external_id="TAKEN")
    customer = CustomerFactory(workspace=workspace)

    body = assert_problem(api.patch(f"customers/{customer.pk}", {"external_id": "TAKEN"}), 409)

    assert "external_id" in body["errors"]


def test_identities_add_list_remove(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    added = api.post(
        f"customers/{customer.pk}/identities", {"kind": "whatsapp", "value": "00393331234567"}
    )
    again = api.post(
        f"customers/{customer.pk}/identities", {"kind": "whatsapp", "value": "+39 333 123 4567"}
    )

    assert added.status_code == 201
    assert added.json()["value"] == "+393331234567"
    assert again.status_code == 200
    assert again.json()["id"] == added.json()["id"]
    listed = api.get(f"customers/{customer.pk}/identities").json()
    assert [i["value"] for i in listed] == ["+393331234567"]

    removed = api.delete(f"customers/{customer.pk}/identities/{added.json()['id']}")

    assert removed.status_code == 204
    assert not Identity.objects.exists()
    assert AuditLogEntry.objects.filter(action="identity.remove").exists()


def test_identity_of_another_customer_is_409_and_invalid_handle_is_422(api, workspace):
    owner = CustomerFactory(workspace=workspace)
    IdentityFactory(customer=owner, value="taken@example.com")
    customer = CustomerFactory(workspace=workspace)

    taken = api.post(
        f"customers/{customer.pk}/identities", {"kind": "email", "value": "TAKEN@example.com"}
    )
    invalid = api.post(f"customers/{customer.pk}/identities", {"kind": "phone", "value": "12"})

    assert "value" in assert_problem(taken, 409)["errors"]
    assert "value" in assert_problem(invalid, 422)["errors"]


def test_removing_an_identity_of_another_customer_is_404(api, workspace):
    customer = CustomerFactory(workspace=workspace)
    someone_else = IdentityFactory(customer=CustomerFactory(workspace=workspace))

    assert_problem(api.delete(f"customers/{customer.pk}/identities/{someone_else.pk}"), 404)
    assert Identity.objects.filter(pk=someone_else.pk).exists()


def test_organizations(api, workspace):
    created = api.post(
        "organizations", {"name": "Acme", "domain": "acme.test", "external_id": "A1"}
    )
    updated = api.post("organizations", {"name": "Acme Inc.", "external_id": "A1"})
    other = api.post("organizations", {"name": "Beta"})

    assert created.status_code == 201
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["domain"] == "acme.test"
    assert other.status_code == 201
    fetched = api.get(f"organizations/{created.json()['id']}").json()
    assert fetched["name"] == "Acme Inc."
    first = api.get("organizations", limit=1).json()
    second = api.get("organizations", limit=1, cursor=first["next"]).json()
    assert [o["name"] for o in first["items"] + second["items"]] == ["Acme Inc.", "Beta"]
    assert second["next"] is None
    assert "name" in assert_problem(api.post("organizations", {"name": ""}), 422)["errors"]


def test_merge(api, workspace):
    primary = CustomerFactory(workspace=workspace, name="Dana Levi")
    duplicate = CustomerFactory(
        workspace=workspace, name="", locale="he", birthday=dt.date(1990, 4, 1)
    )
    IdentityFactory(customer=duplicate, value="dana@example.com")
    OrderFactory(customer=duplicate)

    response = api.post(f"customers/{primary.pk}/merge", {"duplicate_id": duplicate.pk})

    assert response.status_code == 201
    assert response.json()["merged_customer_id"] == duplicate.pk
    assert response.json()["moved"]["identities"] == 1
    body = api.get(f"customers/{primary.pk}").json()
    assert [i["value"] for i in body["identities"]] == ["dana@example.com"]
    assert body["orders_count"] == 1
    assert body["birthday"] == "1990-04-01"
    assert api.get(f"customers/{duplicate.pk}").json()["merged_into_id"] == primary.pk
    merges = api.get(f"customers/{primary.pk}/merges").json()
    assert [m["merged_customer_id"] for m in merges] == [duplicate.pk]
    again = api.post(f"customers/{primary.pk}/merge", {"duplicate_id": duplicate.pk})
    assert_problem(again, 422)


def test_merge_into_itself_is_422(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    assert_problem(api.post(f"customers/{customer.pk}/merge", {"duplicate_id": customer.pk}), 422)


def test_consents(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    granted = api.post(
        f"customers/{customer.pk}/consents",
        {"purpose": "marketing", "channel": "email", "granted": True, "source": "checkout"},
    )
    revoked = api.post(
        f"customers/{customer.pk}/consents",
        {"purpose": "marketing", "channel": "email", "granted": False, "source": "unsubscribe"},
    )

    assert granted.status_code == 201
    assert revoked.status_code == 201
    current = api.get(f"customers/{customer.pk}/consents").json()
    assert [(c["purpose"], c["channel"], c["granted"]) for c in current] == [
        ("marketing", "email", False)
    ]
    history = api.get(f"customers/{customer.pk}/consents/history").json()
    assert [(h["granted"], h["source"]) for h in history] == [
        (False, "unsubscribe"),
        (True, "checkout"),
    ]
    assert history[0]["actor_label"].endswith(f"(API token #{ApiToken.objects.get().pk})")
    bad = api.post(
        f"customers/{customer.pk}/consents", {"purpose": "spam", "channel": "fax", "granted": 1.5}
    )
    assert set(assert_problem(bad, 422)["errors"]) == {"purpose", "channel", "granted"}


def test_consent_with_a_naive_time_is_422(api, workspace):
    customer = CustomerFactory(workspace=workspace)

    response = api.post(
        f"customers/{customer.pk}/consents",
        {
            "purpose": "surveys",
            "channel": "any",
            "granted": True,
            "recorded_at": "2025-01-01T10:00",
        },
    )

    assert "recorded_at" in assert_problem(response, 422)["errors"]


def test_timeline_newest_first_with_keyset(api, workspace):
    customer = CustomerFactory(workspace=workspace)
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for i in range(3):
        ActivityFactory(
            customer=customer, occurred_at=base + dt.timedelta(days=i), title=f"Note {i}"
        )
    OrderFactory(customer=customer, external_id="O-1", placed_at=base + dt.timedelta(hours=36))

    first = api.get(f"customers/{customer.pk}/timeline", limit=2).json()
    rest = api.get(f"customers/{customer.pk}/timeline", limit=2, cursor=first["next"]).json()

    titles = [e["title"] for e in first["items"] + rest["items"]]
    assert titles == ["Note 2", "Order O-1", "Note 1", "Note 0"]
    assert rest["next"] is None
    assert first["items"][1]["kind"] == "order.placed"
    assert first["items"][1]["kind_label"] == "Order placed"


def test_customer_audit_log(api, workspace):
    customer = CustomerFactory(workspace=workspace)
    api.patch(f"customers/{customer.pk}", {"name": "New name"})
    api.post(f"customers/{customer.pk}/identities", {"kind": "email", "value": "n@example.com"})

    entries = api.get(f"customers/{customer.pk}/audit").json()

    assert [e["action"] for e in entries] == ["identity.add", "customer.update"]
    assert entries[0]["actor_token_id"] == ApiToken.objects.get().pk
    assert entries[1]["changes"]["name"][1] == "New name"
