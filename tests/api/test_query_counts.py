"""Query counts of the list endpoints are pinned and do not grow with the page (no N+1).

Each request pays for the token lookup and the permission check (2 queries); the figures
below are the budget on top of nothing else. Raise one only with a reason.
"""

from __future__ import annotations

import pytest

from ascolto.customers.models import OrderLine, Organization
from tests.customers.factories import (
    ActivityFactory,
    CustomerFactory,
    IdentityFactory,
    OrderFactory,
)

# path template -> queries allowed (auth 2 + the reads)
BUDGET = {
    "customers": 4,  # + customers (with organization) + identities
    "customers?search=example.com": 4,
    "orders": 4,  # + orders + lines
    "organizations": 3,
    "customers/{customer}": 5,  # + customer + identities + spend
    "customers/{customer}/orders": 5,  # + customer + orders + lines
    "customers/{customer}/timeline": 5,  # + customer + activities + orders
    "customers/{customer}/identities": 4,
    "customers/{customer}/consents": 4,
    "customers/{customer}/consents/history": 4,
    "customers/{customer}/audit": 4,
    "customers/{customer}/merges": 4,
    "me/tokens": 3,
}


def populate(workspace, n: int) -> int:
    org = Organization.objects.create(workspace=workspace, name=f"Org {n}")
    customer = None
    for _ in range(n):
        customer = CustomerFactory(workspace=workspace, organization=org)
        IdentityFactory(customer=customer)
        IdentityFactory(customer=customer, kind="web")
        order = OrderFactory(customer=customer)
        OrderLine.objects.create(order=order, name="Mug", quantity=1, unit_price=order.total)
        OrderLine.objects.create(order=order, name="Box", quantity=2, unit_price=1)
        ActivityFactory(customer=customer)
    assert customer is not None
    for _ in range(n):
        OrderFactory(customer=customer)
        ActivityFactory(customer=customer)
    return int(customer.pk)


@pytest.mark.parametrize("path", list(BUDGET))
def test_list_queries_are_pinned_and_constant(api, workspace, path, django_assert_max_num_queries):
    api.get("me")  # the first use of a token also records when it was used
    few = populate(workspace, 1)
    with django_assert_max_num_queries(BUDGET[path]):
        small = api.get(path.format(customer=few))
    many = populate(workspace, 12)
    with django_assert_max_num_queries(BUDGET[path]):
        large = api.get(path.format(customer=many))

    assert small.status_code == 200
    assert large.status_code == 200
    if "items" in large.json():
        assert len(large.json()["items"]) >= len(small.json()["items"])
