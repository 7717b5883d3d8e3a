"""Benchmark: import 1M customers + 5M orders from CSV (or JSON Lines) into PostgreSQL.

    python bench/import_bench.py [--customers 1000000] [--orders 5000000] [--format csv]
                                 [--workers N] [--database-url URL] [--keep]

Generates the files (streamed to a temporary folder, not counted in the timings), creates its
own database, runs both imports as jobs exactly as `ascolto import` does, and prints wall time,
rows per second and peak resident memory (this process, and the largest validation worker).
Goal: both imports together in at most 3 minutes with a peak RSS of at most 500 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, peak_rss_mb

FIRST = ["Giulia", "Marco", "Francesca", "Luca", "Noa", "Yossi", "Tamar", "Emma", "James", "Olivia"]
LAST = ["Rossi", "Bianchi", "Esposito", "Cohen", "Levi", "Mizrahi", "Smith", "Jones", "Brown"]
PHONES = [
    ("+39 3{:02d} {:03d} {:04d}", "it", "Europe/Rome"),
    ("+972 5{:01d}-{:03d}-{:04d}", "he", "Asia/Jerusalem"),
    ("+44 7{:03d} {:06d}", "en", "Europe/London"),
]
STATUSES = ["delivered"] * 8 + ["shipped", "cancelled", "returned", "delayed"]


def birthday(rng: random.Random) -> str:
    return f"{rng.randrange(1940, 2006)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def write_customers(path: Path, n: int, fmt: str, rng: random.Random) -> None:
    cols = ["external_id", "name", "email", "phone", "whatsapp", "locale", "timezone", "birthday"]
    with open(path, "w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            out.write(",".join(cols) + "\n")
        for i in range(n):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            pattern, locale, tz = PHONES[i % 3]
            if locale == "it":
                phone = pattern.format(
                    rng.randrange(20, 100), rng.randrange(1000), rng.randrange(10000)
                )
            elif locale == "he":
                phone = pattern.format(rng.randrange(10), rng.randrange(1000), rng.randrange(10000))
            else:
                phone = pattern.format(rng.randrange(100, 1000), rng.randrange(1000000))
            has_phone = rng.random() < 0.7
            row = {
                "external_id": f"C{i:07d}",
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}.{i}@example.com"
                if rng.random() < 0.95
                else "",
                "phone": phone if has_phone else "",
                "whatsapp": phone if has_phone and rng.random() < 0.55 else "",
                "locale": locale,
                "timezone": tz,
                "birthday": birthday(rng) if rng.random() < 0.5 else "",
            }
            if fmt == "csv":
                out.write(",".join(row[c] for c in cols) + "\n")
            else:
                out.write(json.dumps({k: v for k, v in row.items() if v}) + "\n")


def write_orders(path: Path, n: int, customers: int, fmt: str, rng: random.Random) -> None:
    cols = [
        "external_id",
        "customer_external_id",
        "status",
        "placed_at",
        "delivered_at",
        "total",
        "currency",
    ]
    start = dt.datetime(2024, 11, 23, tzinfo=dt.UTC)
    span = 2 * 365 * 86400
    with open(path, "w", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            out.write(",".join(cols) + "\n")
        for i in range(n):
            # Skewed towards a minority of customers, as real order books are.
            customer = min(customers - 1, int(customers * rng.random() ** 2.2))
            placed = start + dt.timedelta(seconds=rng.randrange(span))
            status = rng.choice(STATUSES)
            delivered = (
                (placed + dt.timedelta(days=rng.randrange(1, 6))) if status == "delivered" else None
            )
            row = {
                "external_id": f"O{i:08d}",
                "customer_external_id": f"C{customer:07d}",
                "status": status,
                "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "delivered_at": delivered.strftime("%Y-%m-%dT%H:%M:%SZ") if delivered else "",
                "total": f"{rng.lognormvariate(3.8, 0.8):.2f}",
                "currency": "EUR",
            }
            if fmt == "csv":
                out.write(",".join(row[c] for c in cols) + "\n")
            else:
                out.write(json.dumps({k: v for k, v in row.items() if v}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="validation processes (default: automatic, 2 on large files)",
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=None,
        help="database connections writing at once (default: automatic, 2 on large files)",
    )
    parser.add_argument(
        "--reimport",
        action="store_true",
        help="import the customers file a second time (idempotent path)",
    )
    parser.add_argument(
        "--files",
        type=Path,
        default=None,
        help="folder for the generated files; reused when they are there "
        "(default: a temporary folder, removed afterwards)",
    )
    add_database_argument(parser)
    args = parser.parse_args()

    folder = args.files or Path(tempfile.mkdtemp(prefix="ascolto-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    customers_file = folder / f"customers-{args.customers}.{args.format}"
    orders_file = folder / f"orders-{args.orders}-{args.customers}.{args.format}"
    t0 = time.monotonic()
    if not (customers_file.exists() and orders_file.exists()):
        write_customers(customers_file, args.customers, args.format, rng)
        write_orders(orders_file, args.orders, args.customers, args.format, rng)
    print(
        f"files ready in {time.monotonic() - t0:.1f} s (not timed): "
        f"{customers_file.stat().st_size / 1e6:.0f} MB + {orders_file.stat().st_size / 1e6:.0f} MB"
    )

    with bench_database(args.database_url, keep=args.keep):
        from ascolto.accounts.services import workspace_create
        from ascolto.customers import importer

        workspace = workspace_create(name="Bench", slug="bench")
        timings: dict[str, tuple[int, float, dict]] = {}
        phases = [("customers", customers_file), ("orders", orders_file)]
        if args.reimport:
            phases.append(("customers", customers_file))
        cpu_total = {"importer": 0.0, "workers": 0.0, "postgres": 0.0}
        for phase, (kind, path) in enumerate(phases):
            job = importer.import_job_create(
                workspace=workspace, kind=kind, path=path, fmt=args.format
            )
            before = cpu_seconds()
            started = time.monotonic()
            job = importer.run_import_job(job.pk, workers=args.workers, writers=args.writers)
            seconds = time.monotonic() - started
            after = cpu_seconds()
            used = {k: after[k] - before[k] for k in after}
            if phase < 2:
                for k in cpu_total:
                    cpu_total[k] += used[k]
            if job.status != "succeeded":
                raise SystemExit(f"{kind} import failed: {job.error}")
            label = kind if kind not in timings else f"{kind} (again)"
            timings[label] = (job.result["rows"], seconds, job.result)
            r = job.result
            print(
                f"{label:18} {r['rows']:>9,} rows in {seconds:7.1f} s = "
                f"{r['rows'] / seconds:>9,.0f} rows/s  (created {r['created']:,}, "
                f"updated {r['updated']:,}, unchanged {r['unchanged']:,}, "
                f"failed {r['failed_rows']:,}, stats refreshed {r['stats_refreshed']:,})"
            )
            print(
                f"{'':18} CPU: importer {used['importer']:.0f} s, validation workers "
                f"{used['workers']:.0f} s, PostgreSQL server {used['postgres']:.0f} s"
            )
        own, child = peak_rss_mb()
        total_rows = timings["customers"][0] + timings["orders"][0]
        total_seconds = timings["customers"][1] + timings["orders"][1]
        print(
            f"total              {total_rows:>9,} rows in {total_seconds:7.1f} s = "
            f"{total_rows / total_seconds:>9,.0f} rows/s  (goal: 180 s)"
        )
        cpu = sum(cpu_total.values())
        print(
            f"CPU used           {cpu:.0f} s in all ({cpu_total['importer']:.0f} importer, "
            f"{cpu_total['workers']:.0f} workers, {cpu_total['postgres']:.0f} PostgreSQL): "
            f"on 2 idle cores, at least {cpu / 2:.0f} s"
        )
        print(
            f"peak RSS           {own:.0f} MB importing process, {child:.0f} MB largest worker "
            f"(goal: 500 MB)"
        )
        print(f"machine            {machine()}, {args.database_url.split('@')[-1]}")
    if args.files is None:
        for path in (customers_file, orders_file):
            path.unlink(missing_ok=True)
        folder.rmdir()


def cpu_seconds() -> dict[str, float]:
    """CPU time of this process, of its finished children (the validation workers) and of the
    whole PostgreSQL server (read from /proc: the server runs on this machine). The server's
    figure is its live processes plus the backends that have exited (the writer connections
    close at the end of each import), which the postmaster collects as its children's time."""
    import os
    import resource

    from django.db import connection

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = 0.0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        try:
            postmaster = int(_stat(backend)[1])
            ticks = 0
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = _stat(int(entry.name))
                except OSError:
                    continue
                if int(entry.name) == postmaster:
                    ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
                elif int(fields[1]) == postmaster:
                    ticks += int(fields[11]) + int(fields[12])
            server = ticks / os.sysconf("SC_CLK_TCK")
        except OSError:
            server = 0.0
    return {
        "importer": own.ru_utime + own.ru_stime,
        "workers": children.ru_utime + children.ru_stime,
        "postgres": server,
    }


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [0] state, [1] parent, [11] utime,
    [12] stime, [13] cutime, [14] cstime (in clock ticks)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


if __name__ == "__main__":
    main()
