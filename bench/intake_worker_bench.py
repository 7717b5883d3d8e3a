"""Benchmark: what the worker spends to store, route and push one accepted API-channel message.

    python bench/intake_worker_bench.py [--customers 1000] [--rounds 2] [--batch 200]
                                        [--profile 25] [--sender thread|inline]
                                        [--database-url URL] [--keep]

The ingest bench (bench/ingest_bench.py) measures the whole scaled configuration over HTTP;
this one isolates the worker's half, in one process, so that a change to it can be measured
without the load generator and the web processes on the same cores. It creates its own
database (bench/_setup.py), the ingest bench's workspace (an API inbox with least-loaded
routing, five online agents, a token), then for each round:

1. accepts one message per customer into the intake ledger with the fast path's own
   statement (`intake.INSERT_SQL`; not timed) — round 1 makes every customer new, later
   rounds are follow-ups of known customers in open conversations;
2. stores them as the worker does (`intake_process`, batches of --batch), with the outbox
   events' queueing captured instead of sent to the job queue;
3. dispatches the captured events as the worker does (`dispatch_events`, batches of
   ASCOLTO_OUTBOX_BATCH), timing each handler.

Printed per round: CPU per message of this process (thread CPU) and of its PostgreSQL
backend (/proc), for the store step and for each outbox handler, and the rate those figures
allow on two cores for the worker and the database together (the web processes' share not
counted: see the ingest bench). Realtime pushes go to the configured channel layer (Redis
when REDIS_URL is set), from a loop thread as `ascolto worker` sends them (--sender inline:
each from the committing thread, as before that thread existed); the store step counts
every thread of this process. With --profile N, the N functions with the most cumulative time under
cProfile (which slows everything, so its figures are for finding the cost, not for quoting).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, process_cpu

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_bench_worker"
TEXTS = (
    "Hello, where is my order {n}? It was due on Monday.",
    "Ciao, il mio ordine {n} non è ancora arrivato, potete controllare?",
    "שלום, ההזמנה {n} עדיין לא הגיעה, אפשר לבדוק?",
    "I want a refund for order {n}, the item arrived broken.",
)


class Meter:
    """CPU of this process (all its threads: the pushes leave from a thread of their own) and
    of the database backend, summed per step."""

    def __init__(self, backend_pid: int) -> None:
        self.backend_pid = backend_pid
        self.own: dict[str, float] = defaultdict(float)
        self.db: dict[str, float] = defaultdict(float)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        own, db = time.process_time(), process_cpu(self.backend_pid, missing=float("nan"))
        try:
            yield
        finally:
            self.own[name] += time.process_time() - own
            self.db[name] += process_cpu(self.backend_pid, missing=float("nan")) - db


def _accept(
    workspace_id: int, inbox_id: int, user_id: int, token_id: int, bodies: list[dict[str, Any]]
) -> None:
    from django.db import connection

    from ascolto.connectors.api_channel import intake

    with connection.cursor() as cursor:
        cursor.execute(
            intake.INSERT_SQL,
            [
                intake.rows_document(
                    (workspace_id, inbox_id, b["provider_id"], json.dumps(b), user_id, token_id)
                    for b in bodies
                )
            ],
        )


def _pushes_sent() -> None:
    """Wait until the pushes handed to the background sender have left."""
    from ascolto.core import realtime

    sender = realtime._sender
    while sender is not None and (sender.pending or sender.draining):
        time.sleep(0.002)


def _timed_handlers(meter: Meter) -> None:
    """Wrap every registered outbox handler so that its CPU is counted under its name."""
    from ascolto.core import outbox

    def wrap(name: str, func: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(arg: Any) -> None:
            with meter.step(f"handler {name}"):
                func(arg)

        return timed

    for handler_id, func in list(outbox._batch.items()):
        outbox._batch[handler_id] = wrap(handler_id, func)
    for entries in outbox._registry.values():
        for i, (handler_id, func) in enumerate(entries):
            entries[i] = (handler_id, wrap(handler_id, func))


def run(args: argparse.Namespace) -> None:
    import ingest_bench
    from django.conf import settings
    from django.db import connection

    from ascolto.accounts.models import ApiToken
    from ascolto.connectors.api_channel import intake
    from ascolto.core import outbox, realtime
    from ascolto.core.models import OutboxEvent

    if os.environ.get("REDIS_URL") and args.sender == "thread":
        realtime.start_background_sender()  # as `ascolto worker` does with Redis
    setup = ingest_bench.prepare(agents=5)
    token = ApiToken.objects.select_related("user").order_by("-pk").first()
    assert token is not None
    workspace_id, inbox_id = token.workspace_id, setup["inbox"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]

    captured: list[int] = []
    outbox._enqueue = captured.append  # type: ignore[assignment]
    outbox._enqueue_many = captured.extend  # type: ignore[assignment]
    meter = Meter(backend_pid)
    _timed_handlers(meter)
    profiler = cProfile.Profile() if args.profile else None

    print(machine())
    print(
        f"{args.customers} customers a round, intake batches of {args.batch}, outbox batches "
        f"of {settings.ASCOLTO_OUTBOX_BATCH}, channel layer "
        f"{settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}"
    )
    for round_no in range(1, args.rounds + 1):
        bodies = [
            {
                "provider_id": f"r{round_no}-{n}-{uuid.uuid4().hex[:6]}",
                "customer": {
                    "kind": "email",
                    "value": f"customer{n}@bench.example",
                    "name": f"Customer {n}",
                },
                "text": TEXTS[n % len(TEXTS)].format(n=f"{n}-{round_no}"),
            }
            for n in range(args.customers)
        ]
        _accept(workspace_id, inbox_id, token.user_id, token.pk, bodies)
        meter.own.clear()
        meter.db.clear()
        captured.clear()
        started = time.monotonic()
        if profiler:
            profiler.enable()
        stored = 0
        with meter.step("store (intake batch)"):
            while done := intake.intake_process(limit=args.batch):
                stored += done
        stored_at = time.monotonic()
        events = list(dict.fromkeys(captured))
        size = settings.ASCOLTO_OUTBOX_BATCH
        with meter.step("dispatch (whole)"):
            for start in range(0, len(events), size):
                outbox.dispatch_events(events[start : start + size])
            _pushes_sent()
        if profiler:
            profiler.disable()
        elapsed = time.monotonic() - started
        names = Counter(OutboxEvent.objects.filter(pk__in=events).values_list("name", flat=True))
        pending = OutboxEvent.objects.filter(pk__in=events, dispatched_at__isnull=True).count()
        kind = "new customers" if round_no == 1 else "follow-ups, known customers"
        print(
            f"\nround {round_no} ({kind}): {stored} messages stored in "
            f"{stored_at - started:.1f} s, "
            f"{len(events)} outbox events dispatched ({pending} left pending), "
            f"{elapsed:.1f} s in all"
        )
        print("  events: " + ", ".join(f"{n} {name}" for name, n in sorted(names.items())))
        print(f"  {'step':<72} {'worker ms':>10} {'database ms':>12}   (CPU per message)")
        for name in meter.own:
            own, db = meter.own[name], meter.db[name]
            print(f"  {name:<72} {own * 1000 / stored:>10.2f} {db * 1000 / stored:>12.2f}")
        total = sum(
            meter.own[n] + meter.db[n] for n in ("store (intake batch)", "dispatch (whole)")
        )
        per_message = total / stored
        print(
            f"  total {per_message * 1000:.2f} ms of CPU per message: two cores for the worker "
            f"and the database alone would carry {2 / per_message:,.0f} messages/s"
        )
    if profiler:
        print(f"\ncProfile, all rounds, top {args.profile} by cumulative time:")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1000, help="Messages per round.")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="Intake batch size.")
    parser.add_argument("--profile", type=int, default=0, help="Print the N costliest calls.")
    parser.add_argument(
        "--sender",
        choices=("thread", "inline"),
        default="thread",
        help="Pushes from a loop thread of their own, as `ascolto worker` sends them with "
        "Redis (thread), or each on a loop started by the committing thread (inline).",
    )
    add_database_argument(parser)
    parser.set_defaults(database_url=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("The intake worker path is PostgreSQL's (decision 0012).")
    os.environ["ASCOLTO_REDIS_PREFIX"] = f"worker-bench-{uuid.uuid4().hex[:8]}"
    with bench_database(args.database_url, keep=args.keep):
        run(args)


if __name__ == "__main__":
    main()
