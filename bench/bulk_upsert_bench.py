"""Benchmark: throughput of the bulk upsert services (the API's bulk endpoints), 1,000 rows a call.

    python bench/bulk_upsert_bench.py [--batches 5] [--database-url URL] [--keep]

Runs `services.customers_bulk_upsert` and `services.orders_bulk_upsert` with 1,000-row batches,
each call in its own transaction as the API runs it: first with new rows, then with the same
rows again (the idempotent path: nothing changes, nothing is duplicated). Prints rows/s and
the CPU time of this process per call (the database server's CPU is not included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine

BATCH = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=5, help="1,000-row batches per run")
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from django.db import connection, transaction

        from ascolto.accounts.services import workspace_create
        from ascolto.core.actors import Actor
        from ascolto.customers import services
        from ascolto.customers.models import Customer, Order

        workspace = workspace_create(name="Bench", slug="bench")
        actor = Actor.system("bench")
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

        def customer_rows(batch: int) -> list[services.CustomerInput]:
            return [
                services.CustomerInput(
                    external_id=f"C{batch:03d}{i:04d}",
                    name=f"Giulia Rossi {i}",
                    locale="it",
                    timezone="Europe/Rome",
                    identities=[
                        ("email", f"giulia.{batch}.{i}@example.com"),
                        ("phone", f"+39 347 {batch:03d} {i:04d}"),
                    ],
                )
                for i in range(BATCH)
            ]

        def order_rows(batch: int) -> list[services.OrderRowInput]:
            return [
                services.OrderRowInput(
                    customer_external_id=f"C{batch:03d}{i:04d}",
                    order=services.OrderInput(
                        external_id=f"O{batch:03d}{i:04d}",
                        placed_at=start + dt.timedelta(minutes=batch * BATCH + i),
                        total=Decimal("49.90"),
                        currency="EUR",
                        status="delivered",
                    ),
                )
                for i in range(BATCH)
            ]

        def run(label: str, call: object, make: object) -> None:
            elapsed = 0.0
            cpu = 0.0
            written = 0
            for batch in range(args.batches):
                rows = make(batch)  # type: ignore[operator]
                started, cpu_started = time.perf_counter(), time.process_time()
                with transaction.atomic():
                    result = call(workspace=workspace, rows=rows, actor=actor)  # type: ignore[operator]
                elapsed += time.perf_counter() - started
                cpu += time.process_time() - cpu_started
                assert not result.errors, result.errors[:3]
                written += len(rows)
            print(
                f"{label:28} {written:>6,} rows in {elapsed:6.1f} s = "
                f"{written / elapsed:7,.0f} rows/s "
                f"({elapsed / args.batches * 1000:,.0f} ms per 1,000-row call, "
                f"{cpu / args.batches * 1000:,.0f} ms of this process's CPU)"
            )

        run("customers, new", services.customers_bulk_upsert, customer_rows)
        run("customers, sent again", services.customers_bulk_upsert, customer_rows)
        run("orders, new", services.orders_bulk_upsert, order_rows)
        run("orders, sent again", services.orders_bulk_upsert, order_rows)
        assert Customer.objects.filter(workspace=workspace).count() == args.batches * BATCH
        assert Order.objects.filter(workspace=workspace).count() == args.batches * BATCH
        print(f"machine {machine()}, {connection.vendor}")


if __name__ == "__main__":
    main()
