"""Benchmark: business-time maths, routing passes and the periodic SLA check.

    python bench/routing_bench.py [--conversations 5000] [--agents 50] [--database-url URL]

Creates its own database (see _setup.py), then measures:
- business-time maths on a Rome office calendar (two intervals a day, holidays, DST): the cost
  of one `add_business_minutes` and one `business_minutes_between` over a year of instants;
- routing: `route_waiting` passes until every waiting conversation is assigned, across a
  workspace of online agents (least loaded, capacity per channel, mixed value tiers);
- the SLA check: a run that fires a breach (and a "notify" escalation) on every conversation,
  then a run with nothing left to fire (the steady state of a breached backlog).
Conversations are bulk-inserted (set-up is not timed); what is timed is the product's code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, peak_rss_mb

SPLIT_DAY = [["09:00", "13:00"], ["14:00", "18:00"]]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_routing_bench"
TIERS = ["platinum", "gold", "silver", "bronze", "", "", "", ""]


def bench_maths(samples: int) -> tuple[float, float]:
    from ascolto.inbox.business_hours import (
        add_business_minutes,
        business_minutes_between,
        parse_calendar,
    )

    calendar = parse_calendar(
        timezone="Europe/Rome",
        schedule={d: SPLIT_DAY for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays=["2026-01-01", "2026-04-06", "2026-08-15", "2026-12-25", "2026-12-26"],
    )
    rng = random.Random(7)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    starts = [base + dt.timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(samples)]
    minutes = [rng.choice((15, 60, 240, 480, 1440)) for _ in range(samples)]
    t0 = time.perf_counter()
    dues = [add_business_minutes(s, m, calendar) for s, m in zip(starts, minutes, strict=True)]
    add_us = (time.perf_counter() - t0) / samples * 1e6
    t0 = time.perf_counter()
    for s, d in zip(starts, dues, strict=True):
        business_minutes_between(s, d + dt.timedelta(days=2), calendar)
    between_us = (time.perf_counter() - t0) / samples * 1e6
    return add_us, between_us


def seed(conversations: int, agents: int) -> tuple[int, int]:
    from django.utils import timezone

    from ascolto.accounts.models import Membership, User
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer
    from ascolto.inbox.models import AgentProfile, Conversation, Inbox, SLAPolicy

    workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Rome")
    users = User.objects.bulk_create(User(username=f"agent{n}") for n in range(agents))
    Membership.objects.bulk_create(
        Membership(workspace=workspace, user=u, role="agent") for u in users
    )
    AgentProfile.objects.bulk_create(
        AgentProfile(
            workspace=workspace,
            user=u,
            availability="online",
            capacity={"webchat": conversations, "*": 10},
            languages=["it", "en"],
        )
        for u in users
    )
    policy = SLAPolicy.objects.create(
        workspace=workspace,
        name="Bench",
        first_response_minutes=60,
        resolution_minutes=480,
        escalation=["notify"],
    )
    inbox = Inbox.objects.create(
        workspace=workspace, name="Chat", channel="webchat", routing="least_loaded"
    )
    rng = random.Random(11)
    customers = Customer.objects.bulk_create(
        Customer(workspace=workspace, name=f"C{n}", value_tier=rng.choice(TIERS), locale="it")
        for n in range(conversations)
    )
    past = timezone.now() - dt.timedelta(hours=12)
    Conversation.objects.bulk_create(
        (
            Conversation(
                workspace=workspace,
                inbox=inbox,
                channel="webchat",
                customer=c,
                language="it",
                subject="help",
                first_customer_message_at=past,
                waiting_since=past,
                last_message_at=past,
                created_at=past,
                sla_policy=policy,
                first_response_due_at=past + dt.timedelta(hours=1),
                resolution_due_at=past + dt.timedelta(hours=8),
            )
            for c in customers
        ),
        batch_size=2000,
    )
    return workspace.pk, inbox.pk


def bench_routing(workspace_id: int) -> tuple[float, int, int]:
    from django.db import transaction

    from ascolto.inbox import routing

    assigned = passes = 0
    t0 = time.perf_counter()
    while True:
        with transaction.atomic():
            done = routing.route_waiting(workspace_id=workspace_id, limit=200)
        passes += 1
        assigned += done
        if not done:
            break
    return time.perf_counter() - t0, assigned, passes


def bench_sla() -> tuple[float, int, float]:
    from ascolto.inbox import sla

    t0 = time.perf_counter()
    first = sla.sla_check(limit=10**9)
    firing = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = sla.sla_check(limit=10**9)
    steady = time.perf_counter() - t0
    assert again.breaches == 0
    return firing, first.breaches, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--maths-samples", type=int, default=20000)
    add_database_argument(parser)
    if not os.environ.get("DATABASE_URL"):
        parser.set_defaults(database_url=DEFAULT_URL)
    args = parser.parse_args()

    add_us, between_us = bench_maths(args.maths_samples)
    print(f"machine: {machine()}")
    print(
        f"business time: add {add_us:.1f} µs/op, between {between_us:.1f} µs/op "
        f"({args.maths_samples} samples, Rome office calendar)"
    )
    with bench_database(args.database_url, keep=args.keep):
        from django.db import connection

        workspace_id, _ = seed(args.conversations, args.agents)
        print(
            f"database: {connection.vendor}; {args.conversations} conversations, "
            f"{args.agents} online agents"
        )
        seconds, breaches, steady = bench_sla()
        print(
            f"SLA check, firing: {breaches} breaches in {seconds:.2f} s "
            f"({breaches / seconds:.0f} conversations/s)"
        )
        print(f"SLA check, nothing left to fire: {steady * 1000:.1f} ms")
        seconds, assigned, passes = bench_routing(workspace_id)
        print(
            f"routing: {assigned} assigned in {seconds:.2f} s over {passes} passes "
            f"({assigned / seconds:.0f} conversations/s)"
        )
    own, _ = peak_rss_mb()
    print(f"peak RSS: {own:.0f} MB")


if __name__ == "__main__":
    main()
