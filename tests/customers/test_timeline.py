import datetime as dt
from decimal import Decimal

import pytest

from ascolto.core.errors import ValidationFailed
from ascolto.customers import selectors
from ascolto.customers.models import Activity
from tests.customers.factories import ActivityFactory, CustomerFactory, OrderFactory

T0 = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def walk(customer, limit):
    keys, cursor = [], None
    while True:
        page = selectors.customer_timeline(customer=customer, cursor=cursor, limit=limit)
        keys.extend(e.key for e in page.items)
        if page.next_cursor is None:
            return keys
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_timeline_merges_activities_and_orders_newest_first_across_pages(workspace, limit):
    customer = CustomerFactory(workspace=workspace)
    expected = []
    for i in range(6):
        when = T0 + dt.timedelta(hours=i // 2)  # pairs share a timestamp: ties must be stable
        a = ActivityFactory(customer=customer, workspace=workspace, occurred_at=when)
        o = OrderFactory(customer=customer, workspace=workspace, placed_at=when, total=Decimal(i))
        expected += [(when, 1, a.pk, f"a{a.pk}"), (when, 0, o.pk, f"o{o.pk}")]
    expected.sort(reverse=True)

    assert walk(customer, limit) == [row[3] for row in expected]


def test_timeline_is_scoped_to_the_customer(workspace):
    mine = CustomerFactory(workspace=workspace)
    theirs = CustomerFactory(workspace=workspace)
    ActivityFactory(customer=theirs, workspace=workspace)
    OrderFactory(customer=theirs, workspace=workspace)
    ActivityFactory(customer=mine, workspace=workspace, kind=Activity.Kind.NOTE, title="mine")

    page = selectors.customer_timeline(customer=mine)
    assert [e.title for e in page.items] == ["mine"]


def test_tampered_cursor_is_a_clear_error(workspace):
    customer = CustomerFactory(workspace=workspace)
    with pytest.raises(ValidationFailed, match="cursor"):
        selectors.customer_timeline(customer=customer, cursor="not-a-cursor")


def test_customer_list_search_and_keyset(workspace, other_workspace):
    from tests.customers.factories import IdentityFactory

    rossi = CustomerFactory(workspace=workspace, name="Mario Rossi")
    IdentityFactory(customer=rossi, workspace=workspace, value="mario@rossi.it")
    others = [CustomerFactory(workspace=workspace) for _ in range(5)]
    CustomerFactory(workspace=other_workspace, name="Mario Rossi")

    assert [c.pk for c in selectors.customer_list(workspace=workspace, search="rossi").items] == [
        rossi.pk
    ]
    assert [
        c.pk for c in selectors.customer_list(workspace=workspace, search="MARIO@ROSSI").items
    ] == [rossi.pk]
    first = selectors.customer_list(workspace=workspace, limit=4)
    second = selectors.customer_list(workspace=workspace, limit=4, cursor=first.next_cursor)
    seen = [c.pk for c in first.items + second.items]
    assert seen == sorted([rossi.pk, *(c.pk for c in others)], reverse=True)
    assert second.next_cursor is None


def test_a_page_full_of_newer_activities_reads_no_order_rows(workspace, django_assert_num_queries):
    customer = CustomerFactory(workspace=workspace)
    orders = [
        OrderFactory(customer=customer, workspace=workspace, placed_at=T0 - dt.timedelta(days=d))
        for d in (1, 2)
    ]
    activities = [
        ActivityFactory(
            customer=customer, workspace=workspace, occurred_at=T0 + dt.timedelta(minutes=m)
        )
        for m in range(4)
    ]

    # Two queries: the activities, then the newest order only (not the page of orders).
    with django_assert_num_queries(2):
        page = selectors.customer_timeline(customer=customer, limit=4)

    assert [e.key for e in page.items] == [f"a{a.pk}" for a in reversed(activities)]
    rest = selectors.customer_timeline(customer=customer, cursor=page.next_cursor, limit=4)
    assert [e.key for e in rest.items] == [f"o{o.pk}" for o in orders]
    assert rest.next_cursor is None
