"""Benchmark: the customer journey's computation, its page and its drill-downs at scale.

    python bench/journey_bench.py [--conversations 200000] [--messages 1] [--days 90]
        [--reads 100] [--database-url URL] [--keep] [--cold]

Fills PostgreSQL with set-based SQL (INSERT ... SELECT generate_series): `--conversations`
conversations over `--days` days ending 2026-11-22, `--messages` messages each (every other
one from the customer; each customer message triaged, the first with one of five intents, a
fifth of the conversations negative), a third tagged (four tags), as many orders (a tenth
delayed, a twentieth cancelled), N/4 customers and a survey answer for every fourth customer
(NPS, half with a comment). Then, over the whole period:

- the journey's figures (`selectors.journey`) with the comment themes computed, then cached;
- the worker's snapshot computation (`snapshots.snapshot_compute`, figures and drill-down
  pages): wall, CPU of this process and of its PostgreSQL backend, the process's peak RSS,
  and in a second run the peak of Python allocations (tracemalloc, which slows that run);
- `--reads` reads of the page's figures from the snapshot (`snapshots.journey_for_page`) and
  of the whole page (signed-in member);
- `--reads` drill-downs read from the snapshot (`snapshots.drill_for_page`) of the top pain
  point, of an intent, of a tag and of the support stage (every conversation), of the ids
  only (the API), and of the whole drill-down page, p50/p95 wall and CPU; and one drill-down
  computed directly without a snapshot (`selectors.journey_drill`).

Checks first that the snapshot's figures equal the direct computation. `--cold` also times the
figures on tables never analysed (before ANALYZE).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import (
    add_database_argument,
    bench_database,
    machine,
    peak_rss_mb,
    percentile,
    process_cpu,
)
from analytics_rollups_bench import _insert_sql

COMMENTS = [
    "the courier was late and the package arrived damaged",
    "delivery took two weeks, nobody answered about the parcel",
    "friendly agent, quick and helpful answer",
    "the invoice was wrong and the refund is still missing",
    "great product, works as described",
]
WORDS = ["again", "today", "really", "honestly", "sadly", "finally", "twice", "always"]
INTENTS = ["where_is_my_parcel", "invoice_copy", "product_broken", "presale_question", "other"]
TAGS = ["late", "billing", "vip", "bug"]
LAST_DAY = dt.date(2026, 11, 22)

# Conversation g (1..n) starts at t, step by step over the period.
SERIES = """
FROM (SELECT g, %(start)s::timestamptz + (g - 1) * %(step)s * interval '1 second' AS t
      FROM generate_series(%(first)s, %(last)s) AS g) AS s
"""
CUSTOMERS_SQL = """
INSERT INTO customers_customer ({columns})
SELECT {values} FROM generate_series(1, %(n_customers)s) AS g;
"""
CUSTOMER_VALUES = {"workspace_id": "%(ws)s", "created_at": "now()", "updated_at": "now()"}
CUSTOMER_VALUES["name"] = "'C' || g"

CONVERSATIONS_SQL = "INSERT INTO inbox_conversation ({columns}) SELECT {values}" + SERIES
CONVERSATION_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "t",
    "updated_at": "t",
    "inbox_id": "%(inbox)s",
    "channel": "'webchat'",
    "customer_id": "%(first_customer)s + g %% %(n_customers)s",
    "status": "'resolved'",
    "first_customer_message_at": "t",
    "last_message_at": "t",
    "message_count": "%(messages)s",
}
MESSAGES_SQL = """
INSERT INTO inbox_message ({columns})
SELECT {values}
FROM inbox_conversation AS c, generate_series(1, %(messages)s) AS k
WHERE c.workspace_id = %(ws)s AND c.id BETWEEN %(first)s AND %(last)s;
"""
MESSAGE_VALUES = {
    "workspace_id": "c.workspace_id",
    "created_at": "c.first_customer_message_at + (k - 1) * interval '7 minutes'",
    "updated_at": "c.first_customer_message_at",
    "conversation_id": "c.id",
    "inbox_id": "c.inbox_id",
    "kind": "CASE WHEN k %% 2 = 1 THEN 'inbound' ELSE 'outbound' END",
    "text": "'Hello, about my order'",
}
# g: the conversation's number (its id minus the first id, plus one).
TRIAGE_SQL = """
INSERT INTO assistant_messagetriage ({columns})
SELECT {values}
FROM inbox_message AS m JOIN inbox_conversation AS c ON c.id = m.conversation_id,
     LATERAL (SELECT c.id - %(first_conversation)s + 1 AS g) AS n
WHERE m.workspace_id = %(ws)s AND m.kind = 'inbound'
  AND m.conversation_id BETWEEN %(first)s AND %(last)s;
"""
TRIAGE_VALUES = {
    "workspace_id": "m.workspace_id",
    "created_at": "m.created_at",
    "updated_at": "m.created_at",
    "message_id": "m.id",
    "language": "'en'",
    "intent": "CASE WHEN m.created_at = c.first_customer_message_at "
    "THEN (%(intents)s::text[])[1 + n.g %% 5] ELSE '' END",
    "sentiment": "CASE WHEN m.created_at = c.first_customer_message_at AND n.g %% 5 = 0 "
    "THEN 'negative' ELSE 'neutral' END",
}
TAGGING_SQL = """
INSERT INTO inbox_conversation_tags (conversation_id, tag_id)
SELECT c.id, (%(tags)s)[1 + (c.id - %(first_conversation)s + 1) %% 4]
FROM inbox_conversation AS c
WHERE c.workspace_id = %(ws)s AND (c.id - %(first_conversation)s + 1) %% 3 = 0;
"""
ORDERS_SQL = "INSERT INTO customers_order ({columns}) SELECT {values}" + SERIES
ORDER_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "t",
    "updated_at": "t",
    "customer_id": "%(first_customer)s + g %% %(n_customers)s",
    "external_id": "'O' || g",
    "status": "CASE WHEN g %% 20 = 0 THEN 'cancelled' WHEN g %% 10 = 1 THEN 'delayed' "
    "ELSE 'delivered' END",
    "placed_at": "t",
    "total": "20.00",
    "currency": "'EUR'",
}
INVITATIONS_SQL = """
INSERT INTO surveys_invitation ({columns})
SELECT {values}
FROM (SELECT k, %(first_customer)s + k * 4 AS customer_id
      FROM generate_series(0, (%(n_customers)s - 1) / 4) AS k) AS s;
"""
INVITATION_VALUES = {
    "workspace_id": "%(ws)s",
    "created_at": "%(start)s",
    "updated_at": "%(start)s",
    "survey_id": "%(survey)s",
    "customer_id": "s.customer_id",
    "channel": "'email'",
    "status": "'sent'",
    "source_key": "'b' || s.customer_id",
    "token_digests": "'[]'",
    "send_after": "%(start)s",
    "sent_at": "%(start)s",
    "answered_at": "%(start)s",
}
RESPONSES_SQL = """
INSERT INTO surveys_response ({columns})
SELECT {values}
FROM (SELECT i.*, ROW_NUMBER() OVER (ORDER BY i.id) - 1 AS k
      FROM surveys_invitation AS i WHERE i.workspace_id = %(ws)s) AS i;
"""
RESPONSE_VALUES = {
    "workspace_id": "i.workspace_id",
    "created_at": "%(start)s::timestamptz + (i.k %% %(days)s) * interval '1 day'",
    "updated_at": "%(start)s::timestamptz + (i.k %% %(days)s) * interval '1 day'",
    "survey_id": "i.survey_id",
    "invitation_id": "i.id",
    "customer_id": "i.customer_id",
    "completed": "true",
    "language": "'en'",
    "nps_score": "(3 * i.k) %% 11",
    "touchpoint": "'delivery'",
    "comment": "CASE WHEN i.k %% 2 = 0 THEN (%(comments)s::text[])[1 + i.k %% 5] || ' ' || "
    "(%(words)s::text[])[1 + i.k %% 8] ELSE '' END",
}


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (where the journey's
    statement runs), when /proc shows it (a local server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    value = process_cpu(pid, missing=float("nan"))
    return None if math.isnan(value) else value


def timed(label: str, call: Any) -> Any:
    wall, cpu, db = time.perf_counter(), time.process_time(), backend_cpu()
    result = call()
    took, used, db_after = time.perf_counter() - wall, time.process_time() - cpu, backend_cpu()
    db_used = "" if db is None or db_after is None else f" {db_after - db:7.2f} s database CPU"
    print(
        f"{label:<44} {took:8.2f} s wall {used:8.2f} s CPU{db_used}"
        f"  (load {os.getloadavg()[0]:.1f})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=1, help="Messages per conversation.")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--cold", action="store_true", help="Also time before ANALYZE.")
    add_database_argument(parser)
    args = parser.parse_args()

    with bench_database(args.database_url, keep=args.keep):
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("This bench fills the tables with PostgreSQL SQL; use PostgreSQL.")
        print(machine())
        workspace, filters = fill(args)
        from ascolto.analytics.journey import selectors

        if args.cold:
            timed(
                "figures, tables never analysed",
                lambda: selectors.journey(workspace=workspace, filters=filters),
            )
        with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
            cursor.execute("ANALYZE")
        figures(workspace, filters)
        snapshot(workspace, filters)
        reads(workspace, filters, args.reads)
        print(machine())


def fill(args: argparse.Namespace) -> tuple[Any, Any]:
    from django.db import connection

    from ascolto.accounts.services import workspace_create
    from ascolto.analytics.dashboards.filters import parse_filters
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
    tags = Tag.objects.bulk_create(Tag(workspace=workspace, name=name) for name in TAGS)
    survey = survey_services.survey_create(
        workspace=workspace,
        actor=Actor.system("bench"),
        kind="nps",
        name="NPS",
        touchpoint="delivery",
        title="NPS",
    )
    first_day = LAST_DAY - dt.timedelta(days=args.days - 1)
    start = dt.datetime.combine(first_day, dt.time(), dt.UTC)
    params: dict[str, Any] = {
        "ws": workspace.pk,
        "inbox": inbox.pk,
        "survey": survey.pk,
        "start": start,
        "step": args.days * 86400 / n,
        "days": args.days,
        "n_customers": max(1, n // 4),
        "messages": args.messages,
        "intents": INTENTS,
        "tags": [t.pk for t in tags],
        "comments": COMMENTS,
        "words": WORDS,
    }

    def run(sql: str, chunked: str = "", chunk: int = 250_000, **extra: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")  # no per-row FK triggers
            if not chunked:
                cursor.execute(sql, {**params, **extra})
            else:
                low, high = extra.pop("low"), extra.pop("high")
                for first in range(low, high + 1, chunk):
                    last = min(high, first + chunk - 1)
                    cursor.execute(sql, {**params, **extra, "first": first, "last": last})
            cursor.execute("SET session_replication_role = DEFAULT")

    made = time.perf_counter()
    timed(
        f"filled {params['n_customers']:,} customers",
        lambda: run(_insert_sql(CUSTOMERS_SQL, Customer, CUSTOMER_VALUES)),
    )
    # One INSERT: the ids are consecutive from the first.
    params["first_customer"] = (
        Customer.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)[0]
    )
    timed(
        f"filled {n:,} conversations",
        lambda: run(
            _insert_sql(CONVERSATIONS_SQL, Conversation, CONVERSATION_VALUES),
            "g",
            low=1,
            high=n,
        ),
    )
    ids = Conversation.objects.filter(workspace=workspace).order_by("pk").values_list("pk")
    low, high = ids.first()[0], ids.last()[0]  # type: ignore[index]
    params["first_conversation"] = low
    chunk = max(1, 1_000_000 // args.messages)
    timed(
        f"filled {n * args.messages:,} messages",
        lambda: run(
            _insert_sql(MESSAGES_SQL, Message, MESSAGE_VALUES), "c", chunk, low=low, high=high
        ),
    )
    timed(
        "filled the triage of the customer messages",
        lambda: run(
            _insert_sql(TRIAGE_SQL, MessageTriage, TRIAGE_VALUES), "c", chunk, low=low, high=high
        ),
    )
    timed("tagged a third of the conversations", lambda: run(TAGGING_SQL))
    timed(
        f"filled {n:,} orders",
        lambda: run(_insert_sql(ORDERS_SQL, Order, ORDER_VALUES), "g", low=1, high=n),
    )
    timed(
        "filled the survey answers",
        lambda: (
            run(_insert_sql(INVITATIONS_SQL, Invitation, INVITATION_VALUES)),
            run(_insert_sql(RESPONSES_SQL, Response, RESPONSE_VALUES)),
        ),
    )
    answers = Response.objects.filter(workspace=workspace).count()
    print(
        f"data: {n:,} conversations, {n * args.messages:,} messages and {n:,} orders over "
        f"{args.days} days, {params['n_customers']:,} customers, {answers:,} answers; "
        f"made in {time.perf_counter() - made:.0f} s\n"
    )
    filters = parse_filters(
        {"from": first_day.isoformat(), "to": LAST_DAY.isoformat()}, workspace=workspace
    )
    return workspace, filters


def figures(workspace: Any, filters: Any) -> None:
    from django.core.cache import cache

    from ascolto.analytics.journey import selectors

    cache.clear()
    timed(
        "figures (comment themes computed)",
        lambda: selectors.journey(workspace=workspace, filters=filters),
    )
    journey = timed(
        "figures (themes cached)", lambda: selectors.journey(workspace=workspace, filters=filters)
    )
    top = journey.pain_points[0]
    print(
        f"  {journey.customers:,} customers, {journey.unhappy:,} unhappy, "
        f"{sum(s.interactions for s in journey.stages):,} touches, "
        f"{len(journey.pain_points)} pain points; top {top.key} score {top.score:.1f}"
    )


def snapshot(workspace: Any, filters: Any) -> None:
    from ascolto.analytics.journey import selectors, snapshots

    before = peak_rss_mb()[0]
    timed(
        "snapshot computed (worker), with drill pages",
        lambda: snapshots.snapshot_compute(workspace=workspace, filters=filters),
    )
    after = peak_rss_mb()[0]
    print(f"  peak RSS of the process: {before:.0f} MB before, {after:.0f} MB after")
    tracemalloc.start()
    snapshots.snapshot_compute(workspace=workspace, filters=filters)
    _size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak Python allocations during the computation (tracemalloc): {peak / 2**20:.1f} MB")
    read = snapshots.journey_for_page(workspace=workspace, filters=filters)
    assert read.journey is not None, "snapshot not used"
    assert read.computed_at is not None, "snapshot not used"
    direct = selectors.journey(workspace=workspace, filters=filters)
    assert read.journey.customers == direct.customers
    assert read.journey.unhappy == direct.unhappy
    for stored, now in zip(
        [*read.journey.stages, *read.journey.pain_points],
        [*direct.stages, *direct.pain_points],
        strict=True,
    ):
        for name, value in vars(now).items():
            kept = getattr(stored, name)
            if isinstance(value, float) and kept is not None:
                # Sums of floats may add up in another order in a parallel plan.
                assert math.isclose(kept, value, rel_tol=1e-9, abs_tol=1e-12), (name, kept, value)
            else:
                assert kept == value, (name, kept, value)
    print("  the snapshot equals the direct computation")


def measure(label: str, reads: int, call: Any) -> None:
    walls, cpus = [], []
    for _ in range(reads):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    cpus.sort()
    print(
        f"| {label} | {percentile(walls, 50):.1f} | {percentile(walls, 95):.1f} "
        f"| {percentile(cpus, 50):.1f} | {percentile(cpus, 95):.1f} |"
    )


def reads(workspace: Any, filters: Any, count: int) -> None:
    from django.test import Client
    from django.urls import reverse

    from ascolto.accounts.models import Membership, User
    from ascolto.analytics.journey import selectors, snapshots

    journey = snapshots.journey_for_page(workspace=workspace, filters=filters).journey
    assert journey is not None
    top = journey.pain_points[0].key
    intent = next(p.key for p in journey.pain_points if p.kind == "intent")
    tag = next(p.key for p in journey.pain_points if p.kind == "tag")
    user = User.objects.create_user(username="bench", email="bench@example.com", password=None)
    Membership.objects.create(workspace=workspace, user=user, role="agent")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = f"{reverse('analytics:journey')}?{filters.query()}"
    first = client.get(url)
    assert first.status_code == 200, first.status_code
    assert b"journey-computed-at" in first.content, "the page did not read the snapshot"
    drill_url = f"{reverse('analytics:journey_drill')}?{filters.query(cause=top)}"
    assert client.get(drill_url).status_code == 200

    print(f"\n{count} reads each, ms (load {os.getloadavg()[0]:.1f}):")
    print("| read | wall p50 | wall p95 | CPU p50 | CPU p95 |")
    print("|---|---:|---:|---:|---:|")
    measure(
        "page's figures from the snapshot",
        count,
        lambda: snapshots.journey_for_page(workspace=workspace, filters=filters),
    )
    measure("whole page (snapshot)", count, lambda: client.get(url))
    for label, params in (
        (f"drill-down of the top pain point {top}", {"cause": top}),
        (f"drill-down of {intent}", {"cause": intent}),
        (f"drill-down of {tag}", {"cause": tag}),
        ("drill-down of the support stage", {"stage": "support"}),
    ):
        measure(
            label,
            count,
            lambda params=params: snapshots.drill_for_page(
                workspace=workspace, filters=filters, **params
            ),
        )
    measure(
        "drill-down ids only (as the API reads it)",
        count,
        lambda: snapshots.drill_for_page(
            workspace=workspace, filters=filters, cause=top, rows=False
        ),
    )
    measure("whole drill-down page (snapshot)", count, lambda: client.get(drill_url))
    drill = timed(
        f"\ndrill-down of {top} computed directly",
        lambda: selectors.journey_drill(workspace=workspace, filters=filters, cause=top),
    )
    print(
        f"  {drill.customer_count:,} customers ({drill.unhappy_count:,} unhappy), "
        f"{drill.conversation_count:,} conversations"
    )


if __name__ == "__main__":
    main()
