"""Benchmark: dashboards and exports over many conversations.

    python bench/analytics_bench.py [--conversations 50000] [--days 90] [--database-url URL]

Creates conversations spread over `--days` days (three messages each, a handling span on half
of them, a quarter resolved after a reopen), then prints the time of each dashboard's selector
over the whole period, the rows per second of the streamed conversation CSV export, and the
peak Python heap while streaming it, for a quarter of the period and for all of it: with a
constant-memory export the two peaks are about the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine


def _export_lines(export, workspace, filters, now) -> int:  # type: ignore[no-untyped-def]
    lines = export.csv_lines(
        export.CONVERSATION_COLUMNS,
        export.conversation_rows(workspace=workspace, filters=filters, now=now),
    )
    return sum(1 for _ in lines) - 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=90)
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from ascolto.accounts.models import Membership, User
        from ascolto.accounts.services import workspace_create
        from ascolto.analytics import export
        from ascolto.analytics.dashboards import operations, overview, team, value, voice
        from ascolto.analytics.dashboards.filters import parse_filters
        from ascolto.customers.models import Customer
        from ascolto.inbox.models import Conversation, HandlingInterval, Inbox, Message

        workspace = workspace_create(name="Bench", slug="bench")
        agents = [
            User.objects.create(username=f"agent{i}", email=f"agent{i}@example.com")
            for i in range(10)
        ]
        Membership.objects.bulk_create(Membership(workspace=workspace, user=a) for a in agents)
        inbox = Inbox.objects.create(workspace=workspace, name="Chat", channel="webchat")
        customers = Customer.objects.bulk_create(
            Customer(workspace=workspace, name=f"C{i}", value_tier=["gold", "silver", ""][i % 3])
            for i in range(args.conversations // 5)
        )
        last_day = dt.date(2026, 11, 22)
        first_day = last_day - dt.timedelta(days=args.days - 1)
        start = dt.datetime.combine(first_day, dt.time(), dt.UTC)
        step = dt.timedelta(days=args.days) / args.conversations
        made = time.perf_counter()
        batch = 5_000
        for offset in range(0, args.conversations, batch):
            rows = []
            for i in range(offset, min(offset + batch, args.conversations)):
                began = start + step * i
                resolved = i % 2 == 0
                rows.append(
                    Conversation(
                        workspace=workspace,
                        inbox=inbox,
                        channel=["webchat", "email", "sms"][i % 3],
                        customer=customers[i % len(customers)],
                        assignee=agents[i % len(agents)],
                        status="resolved" if resolved else "open",
                        language=["en", "it", "he"][i % 3],
                        first_customer_message_at=began,
                        first_response_at=began + dt.timedelta(minutes=5 + i % 50),
                        resolved_at=began + dt.timedelta(hours=2) if resolved else None,
                        reopen_count=1 if i % 4 == 0 else 0,
                        created_at=began,
                    )
                )
            conversations = Conversation.objects.bulk_create(rows)
            Message.objects.bulk_create(
                Message(
                    workspace=workspace,
                    conversation=c,
                    inbox=inbox,
                    kind=kind,
                    text="x",
                    created_at=c.first_customer_message_at + dt.timedelta(minutes=k * 7),
                )
                for c in conversations
                for k, kind in enumerate(["inbound", "outbound", "inbound"])
            )
            HandlingInterval.objects.bulk_create(
                HandlingInterval(
                    workspace=workspace,
                    conversation=c,
                    agent_id=c.assignee_id,
                    started_at=c.first_customer_message_at,
                    ended_at=c.first_customer_message_at + dt.timedelta(minutes=4),
                )
                for c in conversations[::2]
            )
        print(machine())
        print(
            f"data: {args.conversations:,} conversations over {args.days} days, "
            f"{3 * args.conversations:,} messages, made in {time.perf_counter() - made:.0f} s"
        )
        params = {"from": first_day.isoformat(), "to": last_day.isoformat()}
        filters = parse_filters(params, workspace=workspace)
        now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
        print("\ndashboard            seconds (period and previous period)")
        for name, module in [
            ("overview", overview),
            ("operations", operations),
            ("voice", voice),
            ("value", value),
            ("team", team),
        ]:
            began = time.perf_counter()
            module.build(workspace=workspace, filters=filters, now=now)
            print(f"{name:<20} {time.perf_counter() - began:8.2f}")

        quarter_first = last_day - dt.timedelta(days=args.days // 4 - 1)
        print("\nCSV export           rows     seconds   rows/s   peak heap MB")
        for label, first in [("quarter period", quarter_first), ("whole period", first_day)]:
            f = parse_filters(
                {"from": first.isoformat(), "to": last_day.isoformat()}, workspace=workspace
            )
            began = time.perf_counter()
            count = _export_lines(export, workspace, f, now)
            took = time.perf_counter() - began
            tracemalloc.start()  # a second run for the heap: tracing slows Python down
            _export_lines(export, workspace, f, now)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{label:<20} {count:>7,} {took:9.2f} {count / took:8,.0f} {peak / 2**20:12.1f}")


if __name__ == "__main__":
    main()
