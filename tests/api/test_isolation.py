"""Cross-workspace isolation: a token of workspace A never sees nor touches workspace B.

Every id of B (customer, identity, order, organization, token) gets the same 404 as an id
that does not exist, for reads and for writes, and B's rows are unchanged afterwards.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.forms.models import model_to_dict

from ascolto.accounts.models import ApiToken
from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers import services
from ascolto.customers.models import (
    Activity,
    Consent,
    ConsentChange,
    Customer,
    CustomerMerge,
    Identity,
    Order,
    OrderLine,
    Organization,
)
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory, IdentityFactory, OrderFactory

MODELS = [
    Customer,
    Identity,
    Order,
    Organization,
    Consent,
    ConsentChange,
    Activity,
    CustomerMerge,
    ApiToken,
    AuditLogEntry,
    OutboxEvent,
]


def snapshot(workspace: Any) -> dict[str, list[dict[str, Any]]]:
    state = {
        model.__name__: [
            model_to_dict(row) for row in model.objects.filter(workspace=workspace).order_by("pk")
        ]
        for model in MODELS
    }
    state["OrderLine"] = [
        model_to_dict(line)
        for line in OrderLine.objects.filter(order__workspace=workspace).order_by("pk")
    ]
    return state


@pytest.fixture
def theirs(other_workspace, make_token):
    """Workspace B with one of everything."""
    from ascolto.core.actors import Actor

    owner = UserFactory()
    MembershipFactory(workspace=other_workspace, user=owner, role="admin")
    make_token(owner, other_workspace, name="b-owner")
    org = Organization.objects.create(workspace=other_workspace, name="B Corp", external_id="ORG-B")
    customer = CustomerFactory(workspace=other_workspace, external_id="CUST-B", organization=org)
    second = CustomerFactory(workspace=other_workspace, external_id="CUST-B2")
    identity = IdentityFactory(customer=customer, value="b@example.com")
    order = OrderFactory(customer=customer, external_id="ORD-B")
    OrderLine.objects.create(order=order, name="Thing", quantity=1, unit_price=order.total)
    services.consent_set(
        customer=customer,
        purpose="marketing",
        channel="email",
        granted=True,
        actor=Actor.for_user(owner),
    )
    return {
        "customer": customer.pk,
        "second": second.pk,
        "identity": identity.pk,
        "order": order.pk,
        "org": org.pk,
        "token": ApiToken.objects.get(workspace=other_workspace, name="b-owner").pk,
    }


@pytest.fixture
def mine(workspace):
    customer = CustomerFactory(workspace=workspace, external_id="CUST-A")
    return {"customer": customer.pk}


ORDER = {"placed_at": "2025-01-01T10:00:00Z", "total": "1.00", "currency": "EUR"}

# (method, path, body) with {customer}, {identity}, ... of B and {mine} of A.
FOREIGN_ID_REQUESTS = [
    ("get", "customers/{customer}", None),
    ("get", "customers/{customer}/identities", None),
    ("get", "customers/{customer}/timeline", None),
    ("get", "customers/{customer}/audit", None),
    ("get", "customers/{customer}/orders", None),
    ("get", "customers/{customer}/consents", None),
    ("get", "customers/{customer}/consents/history", None),
    ("get", "customers/{customer}/merges", None),
    ("get", "orders/{order}", None),
    ("get", "organizations/{org}", None),
    ("patch", "customers/{customer}", {"name": "Hijacked"}),
    ("post", "customers/{customer}/identities", {"kind": "email", "value": "x@example.com"}),
    ("delete", "customers/{customer}/identities/{identity}", None),
    ("delete", "customers/{mine}/identities/{identity}", None),
    (
        "post",
        "customers/{customer}/consents",
        {"purpose": "marketing", "channel": "email", "granted": False},
    ),
    ("post", "customers/{customer}/merge", {"duplicate_id": "{mine}"}),
    ("post", "customers/{mine}/merge", {"duplicate_id": "{customer}"}),
    ("post", "customers/{customer}/merge", {"duplicate_id": "{second}"}),
    ("patch", "customers/{mine}", {"organization_id": "{org}"}),
    ("post", "customers", {"name": "New", "organization_id": "{org}"}),
    ("put", "orders/by-external-id/NEW-A", {"customer_id": "{customer}", **ORDER}),
    ("delete", "me/tokens/{token}", None),
]


def fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN_ID_REQUESTS)
def test_foreign_ids_are_404_like_unknown_ones_and_change_nothing(
    api, theirs, mine, other_workspace, method, path, body
):
    ids = {**theirs, "mine": mine["customer"]}
    unknown = {key: 987_654_321 for key in theirs} | {"mine": mine["customer"]}
    before = snapshot(other_workspace)

    args = () if body is None else (fill(body, ids),)
    foreign = getattr(api, method)(fill(path, ids), *args)
    args = () if body is None else (fill(body, unknown),)
    missing = getattr(api, method)(fill(path, unknown), *args)

    foreign_doc = assert_problem(foreign, 404, "not_found")
    missing_doc = assert_problem(missing, 404, "not_found")

    # Same answer, modulo the id itself: nothing tells B's ids from ids that do not exist.
    def neutral(doc: dict[str, Any]) -> str:
        return re.sub(r"\d+", "<id>", repr({k: doc[k] for k in ("title", "detail", "errors")}))

    assert neutral(foreign_doc) == neutral(missing_doc)
    assert snapshot(other_workspace) == before


def test_lists_and_searches_show_only_the_callers_workspace(api, theirs, mine, other_workspace):
    before = snapshot(other_workspace)

    customers = api.get("customers").json()["items"]
    found = api.get("customers", search="b@example.com").json()["items"]
    by_foreign_org = api.get("customers", organization_id=theirs["org"]).json()["items"]
    orders = api.get("orders").json()["items"]
    orgs = api.get("organizations").json()["items"]
    tokens = api.get("me/tokens").json()

    assert [c["id"] for c in customers] == [mine["customer"]]
    assert found == []
    assert by_foreign_org == []
    assert orders == []
    assert orgs == []
    assert theirs["token"] not in [t["id"] for t in tokens]
    assert snapshot(other_workspace) == before


def test_external_ids_are_per_workspace(api, theirs, mine, other_workspace, workspace):
    before = snapshot(other_workspace)

    order = api.put("orders/by-external-id/ORD-B", {"customer_id": mine["customer"], **ORDER})
    customers = api.post("customers/bulk", {"items": [{"external_id": "CUST-B", "name": "A's"}]})
    orders = api.post(
        "orders/bulk",
        {"items": [{"external_id": "ORD-B2", "customer_external_id": "CUST-B", **ORDER}]},
    )
    org = api.post("organizations", {"name": "Mine", "external_id": "ORG-B"})

    assert order.status_code == 201  # a new order of A, not B's ORD-B
    assert Order.objects.get(pk=order.json()["id"]).workspace == workspace
    assert len(customers.json()["created"]) == 1  # a new customer of A
    # Customer CUST-B of A now exists, so A's order attaches to it, never to B's.
    assert Order.objects.get(pk=orders.json()["created"][0]).customer.workspace == workspace
    assert org.status_code == 201
    assert snapshot(other_workspace) == before


def test_bulk_orders_cannot_reach_another_workspaces_customer(api, theirs, other_workspace):
    before = snapshot(other_workspace)
    item = {"external_id": "X-1", "customer_external_id": "CUST-B", **ORDER}

    body = api.post("orders/bulk", {"items": [item]}).json()

    assert body["created"] == []
    assert body["errors"][0]["errors"] == {"customer_external_id": ["Unknown customer."]}
    assert snapshot(other_workspace) == before


def test_b_sees_its_data_intact_through_its_own_token(other_api, theirs):
    body = other_api.get(f"customers/{theirs['customer']}").json()

    assert body["external_id"] == "CUST-B"
    assert [i["value"] for i in body["identities"]] == ["b@example.com"]
