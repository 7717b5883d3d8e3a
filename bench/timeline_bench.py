"""Benchmark: a customer's timeline with 10,000 activities (and 500 orders), first and deep pages.

    python bench/timeline_bench.py [--activities 10000] [--orders 500] [--noise 100000]
                                   [--runs 300] [--database-url URL] [--keep]

Calls `customers.selectors.customer_timeline` as the Customer 360 page does (50 entries a
page) and prints p50 / p95 / p99 in milliseconds for the first page and for pages reached
through the keyset cursor deep into the history. Other customers' activities (--noise) sit in
the same table, as they would in production. Goal: p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--noise", type=int, default=100_000, help="other customers' activities")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--page", type=int, default=50)
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from django.db import connection

        from ascolto.accounts.services import workspace_create
        from ascolto.customers import selectors
        from ascolto.customers.models import Activity, Customer, Order

        workspace = workspace_create(name="Bench", slug="bench")
        customer = Customer.objects.create(workspace=workspace, name="Giulia Rossi")
        others = Customer.objects.bulk_create(
            Customer(workspace=workspace, name=f"Other {i}") for i in range(100)
        )
        start = dt.datetime(2024, 11, 23, tzinfo=dt.UTC)
        step = dt.timedelta(minutes=(2 * 365 * 24 * 60) // max(1, args.activities))
        Activity.objects.bulk_create(
            (
                Activity(
                    workspace=workspace,
                    customer=customer,
                    kind="note",
                    title=f"Note {i}",
                    body="Called about an order.",
                    occurred_at=start + step * i,
                    data={"n": i},
                )
                for i in range(args.activities)
            ),
            batch_size=5000,
        )
        Activity.objects.bulk_create(
            (
                Activity(
                    workspace=workspace,
                    customer=others[i % len(others)],
                    kind="note",
                    title=f"Other {i}",
                    occurred_at=start + dt.timedelta(minutes=7 * i),
                )
                for i in range(args.noise)
            ),
            batch_size=5000,
        )
        Order.objects.bulk_create(
            (
                Order(
                    workspace=workspace,
                    customer=customer,
                    external_id=f"O{i}",
                    status="delivered",
                    placed_at=start + step * (i * 20) + dt.timedelta(seconds=1),
                    total=Decimal("49.90"),
                    currency="EUR",
                )
                for i in range(args.orders)
            ),
            batch_size=5000,
        )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
            else:
                cursor.execute("ANALYZE")

        cursors: list[str | None] = [None]
        page = selectors.customer_timeline(customer=customer, limit=args.page)
        seen = len(page.items)
        while page.next_cursor:
            cursors.append(page.next_cursor)
            page = selectors.customer_timeline(
                customer=customer, cursor=page.next_cursor, limit=args.page
            )
            seen += len(page.items)
        assert seen == args.activities + args.orders, (seen, args.activities + args.orders)
        depths = {
            "first page": 0,
            "page 20 (1,000 deep)": min(20, len(cursors) - 1),
            f"page {len(cursors) // 2} (middle)": len(cursors) // 2,
            f"page {len(cursors)} (last)": len(cursors) - 1,
        }
        print(
            f"timeline of {args.activities:,} activities + {args.orders:,} orders, "
            f"{args.noise:,} other activities in the table, {args.page} per page, "
            f"{args.runs} runs each"
        )
        for label, index in depths.items():
            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                result = selectors.customer_timeline(
                    customer=customer, cursor=cursors[index], limit=args.page
                )
                timings.append((time.perf_counter() - started) * 1000)
                assert result.items
            timings.sort()
            print(
                f"{label:24} p50 {percentile(timings, 50):6.2f} ms  p95 "
                f"{percentile(timings, 95):6.2f} ms  p99 {percentile(timings, 99):6.2f} ms"
            )
        print(f"walked all {len(cursors)} pages: every entry once, newest first")
        print(f"machine {machine()}, {connection.vendor}")


if __name__ == "__main__":
    main()
