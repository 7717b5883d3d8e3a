"""The customer-value figures at scale: the SQL path equals the Python definition (value.pareto on
each buyer's revenue); the drill-downs list the customers behind the figures, ties by id; a large
workspace reads its periods from snapshots (fresh for an hour, then shown while a worker computes
them again) and the hourly job stores the preset periods of large workspaces only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.dashboards import drill, value
from ascolto.analytics.dashboards.filters import TIERS, parse_filters
from ascolto.analytics.models import Snapshot
from ascolto.analytics.tasks import VALUE_LOCK, refresh_value_snapshots
from ascolto.customers.models import Customer, Order
from tests.customers.factories import CustomerFactory, OrderFactory

PERIOD = {"from": "2026-03-02", "to": "2026-03-10"}
STATUSES = ["pending", "paid", "delivered", "returned", "cancelled", "refunded"]
TIER_VALUES = ["platinum", "gold", "silver", "bronze", ""]
SELECTIONS = [{}, {"tier": "gold"}, {"language": "it"}, {"tier": "unranked", "language": "en"}]


def at(day: int) -> dt.datetime:
    """Noon UTC, `day` days after 1 March 2026 (the period is 2-10 March, the previous one
    21 February - 1 March)."""
    return dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=day)


def filters_of(workspace, **params):
    return parse_filters({**PERIOD, **params}, workspace=workspace)


@pytest.fixture
def utc_workspace(workspace):
    workspace.timezone = "UTC"
    workspace.save()
    return workspace


def buy(customer, day: int, total: str, **extra):
    return OrderFactory(customer=customer, placed_at=at(day), total=Decimal(total), **extra)


def figures_of(board) -> dict[str, float | None]:
    return {f.key: f.value for f in board.figures}


# Amounts in cents: a few repeated values so that ties are common, anything else, refunds.
cents = st.sampled_from([0, 500, 1000, 2500]) | st.integers(-3000, 90_000)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.lists(
        st.tuples(st.sampled_from(TIER_VALUES), st.sampled_from(["it", "en", ""])),
        min_size=6,
        max_size=6,
    ),
    orders=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(-12, 11),
            cents,
            st.sampled_from(STATUSES),
            st.sampled_from(["EUR", "EUR", "USD"]),
        ),
        max_size=25,
    ),
    selection=st.sampled_from(SELECTIONS),
)
def test_the_sql_figures_equal_the_python_definition(
    utc_workspace, monkeypatch, people, orders, selection
):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL path runs on PostgreSQL")
    monkeypatch.setattr(value, "DRILL_ROWS", 3)  # the lists are cut short too
    workspace = utc_workspace
    Order.objects.filter(workspace=workspace).delete()
    Customer.objects.filter(workspace=workspace).delete()
    customers = [
        CustomerFactory(workspace=workspace, value_tier=tier, locale=locale)
        for tier, locale in people
    ]
    for who, day, amount, status, currency in orders:
        buy(customers[who], day, str(Decimal(amount) / 100), status=status, currency=currency)
    current = filters_of(workspace, **selection)

    for filters in (current, current.previous()):
        in_sql = value.period_in_sql(workspace=workspace, filters=filters)
        in_python = value.period_in_python(workspace=workspace, filters=filters)

        assert in_sql.buyers == in_python.buyers
        assert in_sql.revenue == pytest.approx(in_python.revenue, rel=1e-12)
        assert in_sql.share_for_80 == in_python.share_for_80
        assert in_sql.share_for_50 == in_python.share_for_50
        assert in_sql.curve_x == in_python.curve_x
        assert in_sql.curve_y == pytest.approx(in_python.curve_y, rel=1e-12)
        assert [t for t, _ in in_sql.by_tier] == [t for t, _ in in_python.by_tier]
        assert [r for _, r in in_sql.by_tier] == pytest.approx([r for _, r in in_python.by_tier])
        assert in_sql.top80_count == in_python.top80_count
        assert (in_sql.buyer_ids, in_sql.top80_ids) == (in_python.buyer_ids, in_python.top80_ids)
        revenue = value.revenue_by_customer(workspace=workspace, filters=filters)
        for name, ids in (("buyers", sorted(revenue)), ("top80", value.top_customers(revenue))):
            count, rows = value.value_drill(
                workspace=workspace, filters=filters, name=name, limit=3
            )
            assert count == len(ids)
            assert [c.pk for c in rows] == sorted(ids)[:3]


def test_the_drill_downs_show_as_many_customers_as_the_figures_keep():
    assert drill.DRILL_LIMIT <= value.DRILL_ROWS


def test_the_top_customers_are_the_largest_with_ties_by_id(utc_workspace):
    five = [CustomerFactory(workspace=utc_workspace) for _ in range(5)]
    for customer in five:
        buy(customer, 3, "100.00")
    buy(five[4], 4, "200.00")
    buy(five[3], 5, "999.00", status="cancelled")

    _, count, rows = drill.drill_customers(
        workspace=utc_workspace, filters=filters_of(utc_workspace), name="top80"
    )

    # 700 in all: 560 is reached by the one at 300 and three of the four at 100, taken by id.
    assert count == 4
    assert [c.pk for c in rows] == [five[0].pk, five[1].pk, five[2].pk, five[4].pk]
    board = value.build(
        workspace=utc_workspace, filters=filters_of(utc_workspace), now=timezone.now()
    )
    assert figures_of(board)["share_for_80"] == 80.0
    assert figures_of(board)["revenue"] == 700.0


def test_buyers_count_a_refunding_customer_but_not_a_cancelled_one(utc_workspace):
    paid, refunding, cancelled = (CustomerFactory(workspace=utc_workspace) for _ in range(3))
    buy(paid, 3, "80.00")
    buy(refunding, 3, "-20.00")
    buy(cancelled, 3, "50.00", status="cancelled")
    buy(paid, 20, "70.00")  # after the period

    _, count, rows = drill.drill_customers(
        workspace=utc_workspace, filters=filters_of(utc_workspace), name="buyers"
    )

    assert count == 2
    assert [c.pk for c in rows] == [paid.pk, refunding.pk]
    figures = value.period_value(workspace=utc_workspace, filters=filters_of(utc_workspace))
    assert (figures.revenue, figures.share_for_80) == (80.0, 0.5)  # a refund counts as zero


def test_a_small_workspace_is_computed_on_each_view(utc_workspace):
    customer = CustomerFactory(workspace=utc_workspace)
    buy(customer, 3, "10.00")
    filters = filters_of(utc_workspace)
    value.build(workspace=utc_workspace, filters=filters, now=timezone.now())
    buy(customer, 4, "5.00")

    board = value.build(workspace=utc_workspace, filters=filters, now=timezone.now())

    assert figures_of(board)["revenue"] == 15.0
    assert not Snapshot.objects.filter(kind=value.KIND).exists()


def test_a_large_workspace_reads_its_periods_from_snapshots(
    utc_workspace, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(value, "DIRECT_ORDERS", 3)
    customers = [CustomerFactory(workspace=utc_workspace) for _ in range(4)]
    for n, customer in enumerate(customers):
        buy(customer, 2 + n, f"{10 * (n + 1)}.00")
        buy(customer, -3 - n, "7.00")
    filters = filters_of(utc_workspace)

    first = value.build(workspace=utc_workspace, filters=filters, now=timezone.now())

    stored = Snapshot.objects.filter(kind=value.KIND, workspace=utc_workspace)
    assert sorted((s.first_day.isoformat(), s.last_day.isoformat()) for s in stored) == [
        ("2026-02-21", "2026-03-01"),
        ("2026-03-02", "2026-03-10"),
    ]
    current = stored.get(first_day=dt.date(2026, 3, 2))
    assert value.from_data(current.data) == value.period_compute(
        workspace=utc_workspace, filters=filters
    )
    # 40 and 30 of the 100 make half of it; no conversations: no contacts share.
    assert figures_of(first) == {
        "buyers": 4.0,
        "revenue": 100.0,
        "share_for_80": 75.0,
        "share_for_50": 50.0,
        "contacts_for_50": None,
    }
    assert [f.previous for f in first.figures] == [4.0, 28.0, 100.0, 50.0, None]

    buy(customers[0], 5, "500.00")
    fresh = value.build(workspace=utc_workspace, filters=filters, now=timezone.now())
    assert figures_of(fresh)["revenue"] == 100.0  # within the hour

    later = timezone.now() + value.FRESH_FOR + dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks() as queued:
        stale = value.build(workspace=utc_workspace, filters=filters, now=later)
        value.build(workspace=utc_workspace, filters=filters, now=later)
    assert figures_of(stale)["revenue"] == 100.0  # shown while the worker computes it again
    assert len(queued) == 2  # each period once, not once per view
    for job in queued:
        job()  # the worker (Huey runs immediately in tests)

    done = value.build(workspace=utc_workspace, filters=filters, now=timezone.now())
    assert figures_of(done)["revenue"] == 600.0
    _, count, rows = drill.drill_customers(workspace=utc_workspace, filters=filters, name="top80")
    assert (count, [c.pk for c in rows]) == (1, [customers[0].pk])


def test_a_large_workspace_computes_a_period_not_seen_for_a_day(utc_workspace, monkeypatch):
    monkeypatch.setattr(value, "DIRECT_ORDERS", 1)
    customer = CustomerFactory(workspace=utc_workspace)
    buy(customer, 3, "10.00")
    filters = filters_of(utc_workspace)
    value.period_value(workspace=utc_workspace, filters=filters)
    buy(customer, 4, "5.00")

    later = timezone.now() + value.STALE_FOR + dt.timedelta(minutes=1)
    figures = value.period_value(workspace=utc_workspace, filters=filters, now=later)

    assert figures.revenue == 15.0


def test_a_snapshot_written_by_another_version_is_computed_again(utc_workspace, monkeypatch):
    monkeypatch.setattr(value, "DIRECT_ORDERS", 1)
    buy(CustomerFactory(workspace=utc_workspace), 3, "12.00")
    filters = filters_of(utc_workspace)
    Snapshot.objects.create(
        kind=value.KIND,
        workspace=utc_workspace,
        first_day=filters.period.first_day,
        last_day=filters.period.last_day,
        filters_key=value.filters_key(filters),
        computed_at=timezone.now(),
        data={"shape": "old"},
    )

    figures = value.period_value(workspace=utc_workspace, filters=filters)

    assert figures.revenue == 12.0
    assert (
        Snapshot.objects.get(kind=value.KIND, first_day=dt.date(2026, 3, 2)).data["revenue"] == 12.0
    )


def test_snapshots_are_kept_per_workspace_and_filters(utc_workspace, other_workspace, monkeypatch):
    monkeypatch.setattr(value, "DIRECT_ORDERS", 1)
    gold = CustomerFactory(workspace=utc_workspace, value_tier="gold")
    buy(gold, 3, "40.00")
    buy(CustomerFactory(workspace=utc_workspace, value_tier="silver"), 3, "60.00")
    other_workspace.timezone = "UTC"
    other_workspace.save()
    buy(CustomerFactory(workspace=other_workspace), 3, "1000.00")

    everyone = value.period_value(workspace=utc_workspace, filters=filters_of(utc_workspace))
    golds = value.period_value(
        workspace=utc_workspace, filters=filters_of(utc_workspace, tier="gold")
    )
    elsewhere = value.period_value(workspace=other_workspace, filters=filters_of(other_workspace))

    assert (everyone.revenue, golds.revenue, elsewhere.revenue) == (100.0, 40.0, 1000.0)
    assert golds.by_tier == [("gold", 40.0)]


def test_the_hourly_job_stores_the_presets_of_large_workspaces_only(
    utc_workspace, other_workspace, monkeypatch
):
    monkeypatch.setattr(value, "DIRECT_ORDERS", 3)
    now = dt.datetime(2026, 3, 10, 15, tzinfo=dt.UTC)
    customer = CustomerFactory(workspace=utc_workspace)
    for day in (6, 7, 8):
        buy(customer, day, "10.00")
    buy(CustomerFactory(workspace=other_workspace), 8, "10.00")

    stored = value.snapshots_refresh(now=now)

    rows = Snapshot.objects.filter(kind=value.KIND, workspace=utc_workspace)
    assert stored == rows.count() == len(value.PRESET_DAYS) * (len(TIERS) + 1) * 2
    assert not Snapshot.objects.filter(kind=value.KIND, workspace=other_workspace).exists()
    month = rows.get(first_day=dt.date(2026, 2, 11), last_day=dt.date(2026, 3, 10), filters_key="")
    assert value.from_data(month.data).revenue == 30.0


def test_the_hourly_job_skips_when_another_worker_runs_it(utc_workspace, monkeypatch):
    from tests.connectors.email.test_imap import held_by_another_worker

    monkeypatch.setattr(value, "DIRECT_ORDERS", 1)
    buy(CustomerFactory(workspace=utc_workspace), 3, "10.00")
    with held_by_another_worker(VALUE_LOCK):
        assert refresh_value_snapshots.call_local() is None
    assert not Snapshot.objects.filter(kind=value.KIND).exists()
