"""Fuzzing the write operations: whatever a client sends, the answer is never a 500.

Each example takes a valid body and breaks one field (a random JSON value where a string,
number or list belongs, a missing field, an unknown one), or sends random JSON altogether.
Derandomised, so a run is repeatable; the example budget keeps it to a few seconds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "9" * 40, "2025-13-40", "-1", "1e400", "+39", "a" * 300])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)

ORDER = {
    "status": "paid",
    "placed_at": "2025-03-01T10:00:00Z",
    "delivered_at": None,
    "total": "10.00",
    "currency": "EUR",
    "metadata": {"k": "v"},
    "lines": [{"sku": "S", "name": "Mug", "quantity": 1, "unit_price": "10.00"}],
}

# operation -> (method, path, a valid body)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create_customer": (
        "post",
        "customers",
        {
            "name": "Dana",
            "external_id": "E1",
            "locale": "he",
            "timezone": "Asia/Jerusalem",
            "birthday": "1990-04-01",
            "value_tier": "gold",
            "attributes": {},
            "identities": [{"kind": "email", "value": "dana@example.com"}],
        },
    ),
    "update_customer": ("patch", "customers/{customer}", {"name": "Dana", "birthday": None}),
    "add_identity": (
        "post",
        "customers/{customer}/identities",
        {"kind": "phone", "value": "+39061234567"},
    ),
    "set_consent": (
        "post",
        "customers/{customer}/consents",
        {
            "purpose": "marketing",
            "channel": "email",
            "granted": True,
            "source": "form",
            "recorded_at": "2025-01-01T00:00:00+02:00",
        },
    ),
    "merge_customers": ("post", "customers/{customer}/merge", {"duplicate_id": 1}),
    "create_organization": (
        "post",
        "organizations",
        {"name": "Acme", "domain": "a.test", "external_id": "O1"},
    ),
    "upsert_order": ("put", "orders/by-external-id/F-1", {"customer_id": "{customer}", **ORDER}),
    "bulk_customers": ("post", "customers/bulk", {"items": [{"external_id": "B1", "name": "N"}]}),
    "bulk_orders": (
        "post",
        "orders/bulk",
        {"items": [{"external_id": "BO1", "customer_external_id": "FUZZ", **ORDER}]},
    ),
}


@st.composite
def broken_body(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """The base body with one thing broken, or something else entirely."""
    how = draw(st.sampled_from(["field", "nested", "drop", "extra", "anything"]))
    body = json.loads(json.dumps(base))
    if how == "anything" or not body:
        return draw(json_values)
    if how == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif how == "extra":
        body[draw(st.text(max_size=10))] = draw(json_values)
    else:
        target = body
        if how == "nested":
            lists = [
                k for k, v in body.items() if isinstance(v, list) and v and isinstance(v[0], dict)
            ]
            if lists:
                target = body[draw(st.sampled_from(lists))][0]
        target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
    return body


def fill_customer(value: Any, customer_id: int) -> Any:
    text = json.dumps(value).replace('"{customer}"', str(customer_id))
    return json.loads(text)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_no_body_makes_a_write_fail_with_500(api, workspace, operation):
    method, path, base = OPERATIONS[operation]
    customer = CustomerFactory(workspace=workspace, external_id="FUZZ")

    @settings(
        max_examples=25,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=broken_body(fill_customer(base, customer.pk)))
    def run(body: Any) -> None:
        try:
            payload = json.dumps(body)
        except ValueError:
            return
        response = getattr(api, method)(path.format(customer=customer.pk), payload)
        assert response.status_code < 500, response.content[:300]
        if response.status_code >= 400:
            assert_problem(response, response.status_code)

    run()


query_params = st.dictionaries(
    st.sampled_from(
        ["search", "value_tier", "organization_id", "has_orders", "cursor", "limit", "status"]
    ),
    st.text(max_size=30) | st.integers().map(str),
    max_size=4,
)


def test_no_query_or_id_makes_a_read_fail_with_500(api, workspace):
    CustomerFactory(workspace=workspace)

    @settings(max_examples=40, derandomize=True, deadline=None, database=None)
    @given(params=query_params, customer_id=st.integers(min_value=-(2**70), max_value=2**70))
    def run(params: dict[str, str], customer_id: int) -> None:
        for path in ("customers", "orders", "organizations"):
            response = api.get(path, **params)
            assert response.status_code < 500, response.content[:300]
            if response.status_code >= 400:
                assert_problem(response, response.status_code)
        response = api.get(f"customers/{customer_id}/timeline")
        assert response.status_code < 500
        if response.status_code >= 400:
            assert_problem(response, response.status_code)

    run()
