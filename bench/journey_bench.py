"""Benchmark: the customer journey page's figures over many conversations, answers and orders.

    python bench/journey_bench.py [--conversations 20000] [--days 90] [--database-url URL]

Creates `--conversations` conversations over `--days` days (one triaged customer message each,
a third tagged, a fifth negative), as many orders (a tenth late, a twentieth cancelled), and a
survey answer for every fourth customer (half with a comment), then times
`analytics.journey.selectors.journey` over the whole period: once on the freshly loaded tables
(no planner statistics yet), then after ANALYZE (what autovacuum does soon after a bulk load)
with the comment themes computed, again with them cached (as the page reads it a second time),
and the drill-down of the top pain point. Prints wall and CPU seconds and the slowest queries.
Then the snapshot: its computation by the worker (`snapshots.snapshot_compute`) and `--reads`
reads of the page's journey (`snapshots.journey_for_page`, from the fresh snapshot), and of the
whole page (rendered for a signed-in member), with p50/p95 wall and CPU per read.
`--skip-cold` leaves out the read on tables never analysed (long at large volumes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine

COMMENTS = [
    "the courier was late and the package arrived damaged",
    "delivery took two weeks, nobody answered about the parcel",
    "friendly agent, quick and helpful answer",
    "the invoice was wrong and the refund is still missing",
    "great product, works as described",
]
WORDS = ["again", "today", "really", "honestly", "sadly", "finally", "twice", "always"]
INTENTS = ["where_is_my_parcel", "invoice_copy", "product_broken", "presale_question", "other"]


def timed(label: str, call):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    took, used = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<38} {took:8.2f} s wall {used:8.2f} s CPU")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--skip-cold", action="store_true")
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from ascolto.accounts.services import workspace_create
        from ascolto.analytics.dashboards.filters import parse_filters
        from ascolto.analytics.journey import selectors
        from ascolto.assistant.models import MessageTriage
        from ascolto.core.actors import Actor
        from ascolto.customers.models import Customer, Order
        from ascolto.inbox.models import Conversation, Inbox, Message, Tag
        from ascolto.surveys import services as survey_services
        from ascolto.surveys.models import Invitation, Response

        n = args.conversations
        workspace = workspace_create(name="Bench", slug="bench")
        workspace.timezone = "UTC"
        workspace.save()
        inbox = Inbox.objects.create(workspace=workspace, name="Chat", channel="webchat")
        tags = Tag.objects.bulk_create(
            Tag(workspace=workspace, name=name) for name in ("late", "billing", "vip", "bug")
        )
        survey = survey_services.survey_create(
            workspace=workspace,
            actor=Actor.system("bench"),
            kind="nps",
            name="NPS",
            touchpoint="delivery",
            title="NPS",
        )
        customers = Customer.objects.bulk_create(
            Customer(workspace=workspace, name=f"C{i}") for i in range(n // 4)
        )
        last_day = dt.date(2026, 11, 22)
        first_day = last_day - dt.timedelta(days=args.days - 1)
        start = dt.datetime.combine(first_day, dt.time(), dt.UTC)
        step = dt.timedelta(days=args.days) / n
        made = time.perf_counter()
        for offset in range(0, n, 5_000):
            span = range(offset, min(offset + 5_000, n))
            conversations = Conversation.objects.bulk_create(
                Conversation(
                    workspace=workspace,
                    inbox=inbox,
                    channel="webchat",
                    customer=customers[i % len(customers)],
                    status="resolved",
                    first_customer_message_at=start + step * i,
                    created_at=start + step * i,
                )
                for i in span
            )
            messages = Message.objects.bulk_create(
                Message(
                    workspace=workspace,
                    conversation=c,
                    inbox=inbox,
                    kind="inbound",
                    text="x",
                    created_at=c.first_customer_message_at,
                )
                for c in conversations
            )
            MessageTriage.objects.bulk_create(
                MessageTriage(
                    workspace=workspace,
                    message=m,
                    intent=INTENTS[i % len(INTENTS)],
                    sentiment="negative" if i % 5 == 0 else "neutral",
                )
                for i, m in zip(span, messages, strict=True)
            )
            Conversation.tags.through.objects.bulk_create(
                Conversation.tags.through(conversation_id=c.pk, tag_id=tags[i % len(tags)].pk)
                for i, c in zip(span, conversations, strict=True)
                if i % 3 == 0
            )
            Order.objects.bulk_create(
                Order(
                    workspace=workspace,
                    customer=customers[i % len(customers)],
                    external_id=f"O{i}",
                    placed_at=start + step * i,
                    total="20.00",
                    currency="EUR",
                    status="cancelled"
                    if i % 20 == 0
                    else "delayed"
                    if i % 10 == 1
                    else "delivered",
                )
                for i in span
            )
        invitations = Invitation.objects.bulk_create(
            Invitation(
                workspace=workspace,
                survey=survey,
                customer=c,
                channel="email",
                status="sent",
                source_key=f"b{c.pk}",
                send_after=start,
                sent_at=start,
                answered_at=start,
            )
            for c in customers[::4]
        )
        Response.objects.bulk_create(
            Response(
                workspace=workspace,
                survey=survey,
                invitation=inv,
                customer_id=inv.customer_id,
                nps_score=(3 * k) % 11,
                touchpoint="delivery",
                completed=True,
                language="en",
                comment=f"{COMMENTS[k % len(COMMENTS)]} {WORDS[k % len(WORDS)]}"
                if k % 2 == 0
                else "",
                created_at=start + dt.timedelta(days=k % args.days),
            )
            for k, inv in enumerate(invitations)
        )
        print(machine())
        print(
            f"data: {n:,} conversations and {n:,} orders over {args.days} days, "
            f"{len(customers):,} customers, {len(invitations):,} answers; "
            f"made in {time.perf_counter() - made:.0f} s\n"
        )
        filters = parse_filters(
            {"from": first_day.isoformat(), "to": last_day.isoformat()}, workspace=workspace
        )
        if not args.skip_cold:
            timed(
                "journey, tables never analysed",
                lambda: selectors.journey(workspace=workspace, filters=filters),
            )
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum does after a bulk load
                cursor.execute("ANALYZE")
        from django.core.cache import cache

        cache.clear()
        journey = timed(
            "journey (themes computed)",
            lambda: selectors.journey(workspace=workspace, filters=filters),
        )
        timed(
            "journey (themes cached)",
            lambda: selectors.journey(workspace=workspace, filters=filters),
        )
        slowest: list[tuple[float, str]] = []

        def clock(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                slowest.append((time.perf_counter() - began, sql))

        with connection.execute_wrapper(clock):
            selectors.journey(workspace=workspace, filters=filters)
        print("slowest queries of the cached run:")
        for took, sql in sorted(slowest, reverse=True)[:3]:
            print(f"  {took:7.2f} s  {sql[:160]}")
        top = journey.pain_points[0]
        timed(
            f"drill-down of {top.key}",
            lambda: selectors.journey_drill(workspace=workspace, filters=filters, cause=top.key),
        )
        print(f"\ntouches {len(journey.touches):,}; top pain point {top.key} score {top.score:.1f}")
        snapshot_reads(workspace, filters, args.reads)


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {1000 * p50:7.1f} ms  p95 {1000 * p95:7.1f} ms"


def snapshot_reads(workspace, filters, reads: int) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client
    from django.urls import reverse

    from ascolto.accounts.models import Membership, User
    from ascolto.analytics.journey import selectors, snapshots

    timed(
        "snapshot computed (worker)",
        lambda: snapshots.snapshot_compute(workspace=workspace, filters=filters),
    )
    read = snapshots.journey_for_page(workspace=workspace, filters=filters)
    assert read.journey is not None, "snapshot not used"
    assert read.computed_at is not None, "snapshot not used"
    direct = selectors.journey(workspace=workspace, filters=filters)
    assert read.journey.stages == direct.stages, "snapshot differs from the direct computation"
    assert read.journey.pain_points == direct.pain_points, "snapshot differs"
    print("snapshot equals the direct computation")

    def measure(label: str, call) -> None:  # type: ignore[no-untyped-def]
        walls, cpus = [], []
        for _ in range(reads):
            wall, cpu = time.perf_counter(), time.thread_time()
            call()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.thread_time() - cpu)
        print(f"{label:<30} wall {percentiles(walls)}   CPU {percentiles(cpus)}")

    measure(
        "journey from the snapshot",
        lambda: snapshots.journey_for_page(workspace=workspace, filters=filters),
    )
    user = User.objects.create_user(username="bench", email="bench@example.com", password=None)
    Membership.objects.create(workspace=workspace, user=user, role="agent")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = f"{reverse('analytics:journey')}?{filters.query()}"
    first = client.get(url)
    assert first.status_code == 200, first.status_code
    assert b"journey-computed-at" in first.content, "the page did not read the snapshot"
    measure("whole page (snapshot)", lambda: client.get(url))


if __name__ == "__main__":
    main()
