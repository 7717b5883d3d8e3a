"""Benchmark: recommendations over a synthetic shop.

    python bench/recommendations_bench.py [--customers 5000] [--items 500] [--database-url URL]

Creates its own database (see _setup.py) with customers who place 1-8 orders of 1-5 lines over a
catalogue where some items come in pairs (bought together) and some are consumables re-bought
on a rhythm, then measures:
- the nightly recompute of one workspace (`affinities_recompute`: one query, XᵀX, bulk insert);
- a customer's two lists (`recommendations_for` + `replenishment_for`), as the panel, the API
  and the template variables read them (mean and 95th percentile over 300 customers);
- the daily events job of the workspace, first run and an idempotent re-run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, peak_rss_mb

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_recommendations_bench"
START = dt.datetime(2025, 1, 1, 10, tzinfo=dt.UTC)


def seed(customers: int, items: int) -> object:
    from django.db import connection

    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer, Order, OrderLine

    rng = random.Random(5)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    people = Customer.objects.bulk_create(
        [Customer(workspace=workspace, name=f"Customer {n}") for n in range(customers)],
        batch_size=2_000,
    )
    consumables = set(range(0, items, 10))
    orders: list[Order] = []
    baskets: list[list[int]] = []
    for person in people:
        when = START + dt.timedelta(days=rng.randint(0, 200))
        rhythm = rng.choice([14, 30, 45, 60])
        staple = rng.choice(sorted(consumables))
        for n in range(rng.randint(1, 8)):
            basket = {staple} if rng.random() < 0.7 else set()
            for _ in range(rng.randint(1, 4)):
                item = rng.randrange(items)
                basket.add(item)
                if item % 2 == 1 and rng.random() < 0.5:
                    basket.add((item + 2) % items)  # odd items pull their neighbour along
            orders.append(
                Order(
                    workspace=workspace,
                    customer=person,
                    external_id=f"{person.pk}-{n}",
                    placed_at=when,
                    total=Decimal("10.00"),
                    currency="EUR",
                    status="delivered",
                )
            )
            baskets.append(sorted(basket))
            when += dt.timedelta(days=rhythm + rng.randint(-3, 3))
    Order.objects.bulk_create(orders, batch_size=2_000)
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sku=f"SKU{item:04d}",
                name=f"Item {item}",
                quantity=Decimal(1),
                unit_price=Decimal("5.00"),
            )
            for order, basket in zip(orders, baskets, strict=True)
            for item in basket
        ],
        batch_size=5_000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # statistics, as autovacuum would have them
            cursor.execute("ANALYZE")
    print(f"seeded {customers} customers, {len(orders)} orders, {sum(map(len, baskets))} lines")
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.set_defaults(database_url=DEFAULT_URL)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=500)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=args.keep):
        from django.db import transaction

        from ascolto.core.actors import Actor
        from ascolto.customers.models import Customer
        from ascolto.engagement import lifecycle_events
        from ascolto.recommendations import selectors, services

        workspace = seed(args.customers, args.items)
        started = time.perf_counter()
        with transaction.atomic():
            done = services.affinities_recompute(workspace=workspace)  # type: ignore[arg-type]
        recompute = time.perf_counter() - started
        print(
            f"recompute: {recompute:.2f} s ({done.orders} orders, {done.items} items, "
            f"{done.pairs} pairs, {done.cycles} item cycles)"
        )
        sample = list(Customer.objects.order_by("?")[:300])
        today = (START + dt.timedelta(days=260)).date()
        timings = []
        for customer in sample:
            started = time.perf_counter()
            selectors.recommendations_for(customer=customer)
            selectors.replenishment_for(customer=customer, today=today)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        print(
            f"one customer's lists: mean {statistics.mean(timings):.1f} ms, "
            f"p95 {timings[int(len(timings) * 0.95)]:.1f} ms"
        )
        actor = Actor.system("bench")
        for label in ("first run", "re-run"):
            started = time.perf_counter()
            with transaction.atomic():
                recorded = lifecycle_events.lifecycle_events_record(
                    workspace=workspace,  # type: ignore[arg-type]
                    actor=actor,
                    today=today,
                )
            print(
                f"daily events, {label}: {time.perf_counter() - started:.2f} s "
                f"({recorded.replenishment_due} replenishment.due, "
                f"{recorded.churn_risk} customer.churn_risk)"
            )
        print(f"{machine()}; peak RSS {peak_rss_mb()[0]:.0f} MB")


if __name__ == "__main__":
    main()
