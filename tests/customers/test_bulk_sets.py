"""The set-based bulk upserts: the same database state as the one-row services applied row by
row, a bounded number of queries, and nothing written when the same rows come again."""

import datetime as dt
from collections import Counter
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.core.errors import DomainError
from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers import services
from ascolto.customers.models import Activity, Customer, Identity, Order, OrderLine
from tests.accounts.factories import WorkspaceFactory
from tests.customers.factories import CustomerFactory

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)

customer_rows = st.builds(
    services.CustomerInput,
    external_id=st.sampled_from(["c1", "c2", "c3", "c4", ""]),
    name=st.sampled_from([None, "Anna", "Ben"]),
    locale=st.sampled_from([None, "it", "he"]),
    timezone=st.sampled_from([None, "Europe/Rome", "Nowhere/Land"]),
    value_tier=st.sampled_from([None, "gold", ""]),
    identities=st.lists(
        st.sampled_from(
            [
                ("email", "a@example.it"),
                ("email", "B@example.it"),
                ("phone", "+39 347 123 4567"),
                ("whatsapp", "+39 347 123 4567"),
                ("email", "not an email"),
            ]
        ),
        max_size=3,
    ),
)
order_rows = st.builds(
    lambda customer, external_id, status, total, currency, lines, hours: services.OrderRowInput(
        customer_external_id=customer,
        order=services.OrderInput(
            external_id=external_id,
            placed_at=T0 + dt.timedelta(hours=hours),
            total=total,
            currency=currency,
            status=status,
            lines=lines,
        ),
    ),
    customer=st.sampled_from(["c1", "c2", "c3", "nobody"]),
    external_id=st.sampled_from(["o1", "o2", "o3", "o4"]),
    status=st.sampled_from(["pending", "delivered", "cancelled", "nonsense"]),
    total=st.sampled_from([Decimal("5"), Decimal("12.50"), Decimal("-1")]),
    currency=st.sampled_from(["EUR", "usd"]),
    lines=st.sampled_from(
        [
            None,
            [],
            [services.OrderLineInput(name="Mug", quantity=Decimal("1"), unit_price=Decimal("5"))],
        ]
    ),
    hours=st.integers(0, 3),
)


def one_by_one_customers(workspace, rows, actor):
    errors = []
    for index, row in enumerate(rows):
        try:
            with transaction.atomic():
                services.customer_upsert(workspace=workspace, data=row, actor=actor)
        except DomainError:
            errors.append(index)
    return errors


def one_by_one_orders(workspace, rows, actor):
    errors = []
    for index, row in enumerate(rows):
        customer = Customer.objects.filter(
            workspace=workspace, external_id=row.customer_external_id
        ).first()
        if customer is None:
            errors.append(index)
            continue
        try:
            with transaction.atomic():
                services.order_upsert(
                    workspace=workspace, customer=customer, data=row.order, actor=actor
                )
        except DomainError:
            errors.append(index)
    return errors


def state(workspace):
    customers = sorted(
        Customer.objects.filter(workspace=workspace).values_list(
            "external_id",
            "name",
            "locale",
            "timezone",
            "value_tier",
            "attributes",
            "lifetime_spend",
            "orders_count",
            "last_order_at",
        )
    )
    identities = sorted(
        Identity.objects.filter(workspace=workspace).values_list(
            "customer__external_id", "kind", "value", "is_primary"
        )
    )
    orders = sorted(
        Order.objects.filter(workspace=workspace).values_list(
            "external_id", "customer__external_id", "status", "total", "currency", "placed_at"
        )
    )
    lines = sorted(
        OrderLine.objects.filter(order__workspace=workspace).values_list(
            "order__external_id", "name", "quantity", "unit_price"
        )
    )
    activities = Counter(Activity.objects.filter(workspace=workspace).values_list("kind", "title"))
    return customers, identities, orders, lines, activities


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.tuples(st.lists(customer_rows, max_size=6), st.lists(order_rows, max_size=6)),
        min_size=1,
        max_size=3,
    )
)
def test_bulk_gives_the_state_of_the_one_row_services(db, actor, batches):
    bulk, reference = WorkspaceFactory(), WorkspaceFactory()
    for customers, orders in batches:
        result = services.customers_bulk_upsert(workspace=bulk, rows=customers, actor=actor)
        assert [e.index for e in result.errors] == one_by_one_customers(reference, customers, actor)
        result = services.orders_bulk_upsert(workspace=bulk, rows=orders, actor=actor)
        assert [e.index for e in result.errors] == one_by_one_orders(reference, orders, actor)

        assert state(bulk) == state(reference)


def customer_batch(n, *, name="Giulia"):
    return [
        services.CustomerInput(
            external_id=f"C{i}",
            name=f"{name} {i}",
            locale="it",
            identities=[("email", f"g{i}@example.com"), ("phone", f"+39 347 000 {i:04d}")],
        )
        for i in range(n)
    ]


def order_batch(n, *, status="paid"):
    return [
        services.OrderRowInput(
            customer_external_id=f"C{i}",
            order=services.OrderInput(
                external_id=f"O{i}",
                placed_at=T0 + dt.timedelta(minutes=i),
                total=Decimal("20"),
                currency="EUR",
                status=status,
            ),
        )
        for i in range(n)
    ]


def queries_of(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_a_call_takes_a_bounded_number_of_queries_whatever_its_rows(db, actor):
    def run(n):
        workspace = WorkspaceFactory()
        customers = queries_of(
            lambda: services.customers_bulk_upsert(
                workspace=workspace, rows=customer_batch(n), actor=actor
            )
        )
        orders = queries_of(
            lambda: services.orders_bulk_upsert(
                workspace=workspace, rows=order_batch(n), actor=actor
            )
        )
        return customers, orders

    few, many = run(3), run(300)

    # Row by row this was about 14 queries a customer; now a few per call, savepoints included
    # (SQLite splits big inserts into several statements by its parameter limit: the margin).
    assert max(few) <= 20
    assert many[0] <= few[0] + 20
    assert many[1] <= few[1] + 20


def test_the_same_rows_again_change_and_create_nothing(workspace, actor):
    services.customers_bulk_upsert(workspace=workspace, rows=customer_batch(50), actor=actor)
    services.orders_bulk_upsert(workspace=workspace, rows=order_batch(50), actor=actor)
    before = (
        list(Customer.objects.order_by("pk").values_list("pk", "updated_at", "last_activity_at")),
        list(Order.objects.order_by("pk").values_list("pk", "updated_at")),
        Activity.objects.count(),
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Identity.objects.count(),
    )

    customers = services.customers_bulk_upsert(
        workspace=workspace, rows=customer_batch(50), actor=actor
    )
    orders = services.orders_bulk_upsert(workspace=workspace, rows=order_batch(50), actor=actor)

    assert customers.created == []
    assert len(customers.updated) == 50
    assert orders.created == []
    assert len(orders.updated) == 50
    after = (
        list(Customer.objects.order_by("pk").values_list("pk", "updated_at", "last_activity_at")),
        list(Order.objects.order_by("pk").values_list("pk", "updated_at")),
        Activity.objects.count(),
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Identity.objects.count(),
    )
    assert after == before


def test_one_customers_event_per_call_and_one_audit_entry_per_changed_row(workspace, actor):
    services.customers_bulk_upsert(workspace=workspace, rows=customer_batch(3), actor=actor)
    rows = customer_batch(3)
    rows[1].name = "Renamed"

    services.customers_bulk_upsert(workspace=workspace, rows=rows, actor=actor)

    events = list(OutboxEvent.objects.filter(workspace=workspace).order_by("pk"))
    assert [e.name for e in events] == ["customers.customer.bulk_upserted"] * 2
    renamed = Customer.objects.get(workspace=workspace, external_id="C1")
    assert events[0].payload["updated"] == []
    assert len(events[0].payload["created"]) == 3
    assert events[1].payload == {"created": [], "updated": [renamed.pk]}
    update = AuditLogEntry.objects.get(action="customer.update")
    assert update.customer_id == renamed.pk
    assert update.changes == {"name": ["Giulia 1", "Renamed"]}
    assert AuditLogEntry.objects.filter(action="customer.create").count() == 3
    timeline = Activity.objects.filter(customer=renamed).order_by("pk")
    assert [a.kind for a in timeline] == ["customer.created", "customer.updated"]
    assert timeline[1].data == {"changes": {"name": ["Giulia 1", "Renamed"]}}


def test_each_changed_order_gets_its_event_with_the_status_it_left(workspace, actor):
    services.customers_bulk_upsert(workspace=workspace, rows=customer_batch(2), actor=actor)
    services.orders_bulk_upsert(workspace=workspace, rows=order_batch(2), actor=actor)
    rows = order_batch(2)
    rows[0].order.status = "delivered"

    services.orders_bulk_upsert(workspace=workspace, rows=rows, actor=actor)

    order = Order.objects.get(external_id="O0")
    events = OutboxEvent.objects.filter(name__startswith="customers.order.").order_by("pk")
    assert [(e.name, e.payload.get("order_id")) for e in events][2:] == [
        ("customers.order.updated", order.pk)
    ]
    assert events.last().payload == {
        "order_id": order.pk,
        "customer_id": order.customer_id,
        "status": "delivered",
        "previous_status": "paid",
    }
    change = Activity.objects.get(kind=Activity.Kind.ORDER_UPDATED)
    assert change.data == {"order_id": order.pk, "from": "paid", "to": "delivered"}
    assert change.source_id == str(order.pk)


def test_an_identity_of_another_customer_fails_the_row_and_writes_nothing_of_it(workspace, actor):
    owner = CustomerFactory(workspace=workspace, external_id="OWNER")
    owner.identities.create(workspace=workspace, kind="email", value="taken@example.com")
    CustomerFactory(workspace=workspace, external_id="C1", name="Before")
    rows = [
        services.CustomerInput(
            external_id="C1",
            name="After",
            identities=[("email", "free@example.com"), ("email", "TAKEN@example.com")],
        ),
        services.CustomerInput(external_id="C2", identities=[("email", "free@example.com")]),
    ]

    result = services.customers_bulk_upsert(workspace=workspace, rows=rows, actor=actor)

    assert [e.index for e in result.errors] == [0]
    assert "identities" in result.errors[0].field_errors
    assert f"#{owner.pk}" in result.errors[0].message
    assert Customer.objects.get(external_id="C1").name == "Before"
    assert Identity.objects.get(value="free@example.com").customer.external_id == "C2"


def test_stats_follow_an_order_that_moves_to_another_customer(workspace, actor):
    services.customers_bulk_upsert(workspace=workspace, rows=customer_batch(2), actor=actor)
    services.orders_bulk_upsert(workspace=workspace, rows=order_batch(1), actor=actor)
    moved = order_batch(1)
    moved[0].customer_external_id = "C1"

    services.orders_bulk_upsert(workspace=workspace, rows=moved, actor=actor)

    first, second = Customer.objects.filter(workspace=workspace).order_by("external_id")
    assert (first.orders_count, first.lifetime_spend, first.last_order_at) == (0, 0, None)
    assert (second.orders_count, second.lifetime_spend) == (1, Decimal("20.00"))


def test_many_order_events_are_left_to_the_sweeper_few_are_dispatched_at_once(
    workspace, actor, django_capture_on_commit_callbacks
):
    from ascolto.core import outbox
    from ascolto.customers.services.bulk import ENQUEUE_AT_ONCE

    services.customers_bulk_upsert(
        workspace=workspace, rows=customer_batch(ENQUEUE_AT_ONCE + 1), actor=actor
    )
    orders = OutboxEvent.objects.filter(name__startswith="customers.order.")

    with django_capture_on_commit_callbacks(execute=True):
        services.orders_bulk_upsert(workspace=workspace, rows=order_batch(2), actor=actor)
    assert orders.filter(dispatched_at__isnull=True).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.orders_bulk_upsert(
            workspace=workspace,
            rows=order_batch(ENQUEUE_AT_ONCE + 1, status="delivered"),
            actor=actor,
        )
    assert orders.filter(dispatched_at__isnull=True).count() == ENQUEUE_AT_ONCE + 1

    outbox.sweep(now=timezone.now() + dt.timedelta(minutes=2), limit=1000)
    assert orders.filter(dispatched_at__isnull=True).count() == 0
