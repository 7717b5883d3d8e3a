"""Benchmark: the customer-value dashboard and its customer drill-downs at scale.

    python bench/value_dashboard_bench.py [--customers 1000000] [--orders 5000000]
        [--days 365] [--runs 20] [--computes 3] [--check] [--database-url URL] [--keep] [--reuse]

Fills PostgreSQL with set-based SQL (INSERT ... SELECT generate_series): `--customers`
customers (five value tiers and four languages, spread evenly) and `--orders` orders spread
evenly over the last `--days` days. Who buys is skewed (a customer drawn as n * u^2 for a
uniform u, scattered over the ids) and so are the amounts (a few large baskets), so that revenue
is concentrated as in a real shop; 4% of the orders are cancelled, 2% refunded, 1% in another
currency, 1% negative (a credit note). For the 90 days ending yesterday and the 90 days before,
with no filter, a tier and a language: times the computation of each period's figures stored as
a snapshot (`--computes` runs), then, `--runs` times each after one warm-up, the reads: the
value dashboard's `build` (both periods, from the snapshots) and the customer drill-downs
(`drill_customers`, buyers and top80: the count and the first DRILL_LIMIT customers).
Prints p50 / p95 wall and CPU milliseconds (goal: p95 <= 200 ms). With `--reuse` (a database
left by `--keep`), only the timings run again. `--check` compares the figures with the Python
definition (pareto.py on revenue per customer pulled into Python) before timing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, percentile

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_bench_value"
TIERS = ["platinum", "gold", "silver", "bronze", ""]
LOCALES = ["en", "it", "he", ""]

CUSTOMERS_SQL = """
INSERT INTO customers_customer ({columns})
SELECT {values} FROM generate_series(%(first)s, %(last)s) AS g;
"""

CUSTOMER_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "%(now)s::timestamptz",
    "updated_at": "%(now)s::timestamptz",
    "external_id": "'c' || g",
    "name": "'Customer ' || g",
    "locale": "(%(locales)s::text[])[1 + g %% 4]",
    "value_tier": "(%(tiers)s::text[])[1 + g %% 5]",
    "lifetime_spend": "0",
    "orders_count": "0",
}

# One order per g; u is a uniform draw in [0, 1) from g (Knuth's multiplicative hash), so the
# customer n * u^2 makes a few customers the frequent buyers; multiplying by a prime modulo n
# scatters them over the ids. t steps back evenly from now.
ORDERS_SQL = """
INSERT INTO customers_order ({columns})
SELECT {values}
FROM (SELECT g,
             ((g::bigint * 2654435761) %% 4294967296)::float8 / 4294967296 AS u,
             ((g::bigint * 40503) %% 65536)::float8 / 65536 AS v,
             %(now)s::timestamptz - (g::float8 * %(span)s / %(n)s) * interval '1 second' AS t
      FROM generate_series(%(first)s, %(last)s) AS g) AS s;
"""

ORDER_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "t",
    "updated_at": "t",
    "customer_id": "%(low)s + (floor(%(n_customers)s * u * u)::bigint * 7919) %% %(n_customers)s",
    "external_id": "'o' || g",
    "status": "CASE WHEN g %% 100 < 4 THEN 'cancelled' WHEN g %% 100 < 6 THEN 'refunded' "
    "WHEN g %% 100 < 9 THEN 'returned' WHEN g %% 100 < 40 THEN 'delivered' "
    "ELSE (ARRAY['paid','shipped','pending'])[1 + g %% 3] END",
    "placed_at": "t",
    "total": "CASE WHEN g %% 100 = 57 THEN -round((5 + v * 40)::numeric, 2) "
    "ELSE round((5 + 20 * v + 2000 * power(v, 12))::numeric, 2) END",
    "currency": "CASE WHEN g %% 100 = 99 THEN 'USD' ELSE 'EUR' END",
}


def _insert_sql(template: str, model: Any, values: dict[str, str]) -> str:
    from analytics_rollups_bench import _insert_sql as insert_sql

    result: str = insert_sql(template, model, values)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=365, help="Days the orders span.")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--computes", type=int, default=3, help="Runs of each period's computation."
    )
    parser.add_argument(
        "--reuse", action="store_true", help="Time again on a database left by --keep (no fill)."
    )
    parser.add_argument(
        "--check", action="store_true", help="Check the figures against the Python definition."
    )
    add_database_argument(parser)
    parser.set_defaults(database_url=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep or args.reuse, reuse=args.reuse):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")
        print(machine())
        if args.reuse:
            from ascolto.core.models import Workspace

            workspace = Workspace.objects.get(slug="bench")
        else:
            workspace = _fill(args, dt.datetime.now(dt.UTC))
        cases = _cases(workspace)
        if args.check:
            _check(workspace, cases)
        _time_all(workspace, cases, args.runs, args.computes)
        print(machine())


def _timed(label: str, work: Callable[[], Any]) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {os.getloadavg()[0]:.1f})")
    return result


def _fill(args: argparse.Namespace, now: dt.datetime) -> Any:
    from django.db import connection

    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer, Order

    workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Rome")
    params: dict[str, Any] = {
        "ws": workspace.pk,
        "now": now,
        "tiers": TIERS,
        "locales": LOCALES,
        "span": args.days * 86400,
        "n": args.orders,
        "n_customers": args.customers,
    }
    customers_sql = _insert_sql(CUSTOMERS_SQL, Customer, CUSTOMER_VALUES)
    orders_sql = _insert_sql(ORDERS_SQL, Order, ORDER_VALUES)
    chunk = 500_000

    def customers() -> None:
        with connection.cursor() as cursor:
            for first in range(1, args.customers + 1, chunk):
                last = min(args.customers, first + chunk - 1)
                cursor.execute(customers_sql, {**params, "first": first, "last": last})
            cursor.execute("VACUUM ANALYZE customers_customer")

    def orders() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT min(id) FROM customers_customer WHERE workspace_id = %s", [workspace.pk]
            )
            params["low"] = cursor.fetchone()[0]
            # A bulk load: no per-row foreign-key triggers (the ids come from the rows above).
            cursor.execute("SET session_replication_role = replica")
            for first in range(1, args.orders + 1, chunk):
                last = min(args.orders, first + chunk - 1)
                cursor.execute(orders_sql, {**params, "first": first, "last": last})
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("VACUUM ANALYZE customers_order")

    _timed(f"filled {args.customers:,} customers", customers)
    _timed(f"filled {args.orders:,} orders", orders)
    return workspace


def _cases(workspace: Any) -> dict[str, Any]:
    from django.utils import timezone

    from ascolto.analytics.dashboards.filters import parse_filters

    today = timezone.now().astimezone(ZoneInfo(workspace.timezone)).date()
    last = today - dt.timedelta(days=1)
    period = {"from": (last - dt.timedelta(days=89)).isoformat(), "to": last.isoformat()}
    selections = {"none": {}, "tier": {"tier": "gold"}, "language": {"language": "it"}}
    return {
        label: parse_filters({**period, **extra}, workspace=workspace)
        for label, extra in selections.items()
    }


def _check(workspace: Any, cases: dict[str, Any]) -> None:
    """The dashboard's figures and drill-downs equal the Python definition (pareto.py)."""
    from django.db.models import Sum
    from django.utils import timezone

    from ascolto.analytics.dashboards import drill, value
    from ascolto.analytics.value import pareto

    for label, filters in cases.items():
        for current in (filters, filters.previous()):
            revenue = {
                row["customer_id"]: row["revenue"]
                for row in value.revenue_orders(workspace=workspace, filters=current)
                .values("customer_id")
                .annotate(revenue=Sum("total"))
                .order_by()
            }
            floats = [float(v) for v in revenue.values()]
            summary = pareto.pareto_summary(floats)
            xs, _ = pareto.pareto_curve(floats, points=21)
            board = value.build(workspace=workspace, filters=current, now=timezone.now())
            figures = {f.key: f.value for f in board.figures}
            expected_share = None if summary.share_for_80 is None else 100 * summary.share_for_80
            assert figures["buyers"] == summary.customers, (label, figures, summary)
            assert abs(figures["revenue"] - summary.total) < 1e-6 * max(1, summary.total)
            assert figures["share_for_80"] == expected_share, (label, figures, summary)
            top = value.top_customers(revenue)
            _, count, rows = drill.drill_customers(
                workspace=workspace, filters=current, name="top80"
            )
            assert count == len(top)
            assert [c.pk for c in rows] == sorted(top)[: drill.DRILL_LIMIT]
            _, count, rows = drill.drill_customers(
                workspace=workspace, filters=current, name="buyers"
            )
            assert count == len(revenue)
            assert [c.pk for c in rows] == sorted(revenue)[: drill.DRILL_LIMIT]
            print(
                f"checked {label} {current.period.first_day}: {summary.customers:,} buyers, "
                f"share for 80% {expected_share}, curve {len(xs)} points"
            )


def _series(runs: int, work: Callable[[], Any]) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return sorted(walls), sorted(cpus)


def _row(read: str, label: str, walls: list[float], cpus: list[float]) -> None:
    print(
        f"| {read} | {label} | {percentile(walls, 50):.0f} | {percentile(walls, 95):.0f} "
        f"| {percentile(cpus, 50):.0f} | {percentile(cpus, 95):.0f} |",
        flush=True,
    )


def _time_all(workspace: Any, cases: dict[str, Any], runs: int, computes: int) -> None:
    from django.utils import timezone

    from ascolto.analytics.dashboards import drill, value

    print()
    print(
        f"Computing one period's figures and storing them (what the first view of a large "
        f"period and the hourly job do), {computes} runs each; CPU is this process only, the "
        "work is in PostgreSQL:"
    )
    print("| computation | filter | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---:|---:|---:|---:|")
    for label, filters in cases.items():
        for which, period in (("period", filters), ("previous period", filters.previous())):
            walls, cpus = _series(
                computes, lambda p=period: value.snapshot_compute(workspace=workspace, filters=p)
            )
            _row(f"snapshot of the {which}", label, walls, cpus)

    print()
    print(f"Reads, 90 days ending yesterday with the previous 90 days, {runs} runs each:")
    print("| read | filter | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms |")
    print("|---|---|---:|---:|---:|---:|")

    def build(filters: Any) -> Callable[[], Any]:
        return lambda: value.build(workspace=workspace, filters=filters, now=timezone.now())

    def drill_down(filters: Any, name: str) -> Callable[[], Any]:
        def work() -> Any:
            _, count, rows = drill.drill_customers(workspace=workspace, filters=filters, name=name)
            return count, list(rows)

        return work

    jobs: list[tuple[str, str, Callable[[], Any]]] = [
        ("value dashboard", label, build(filters)) for label, filters in cases.items()
    ]
    for name in ("buyers", "top80"):
        for label in cases:
            jobs.append((f"drill {name}", label, drill_down(cases[label], name)))
    for read, label, work in jobs:
        work()  # warm-up
        _row(read, label, *_series(runs, work))


if __name__ == "__main__":
    main()
