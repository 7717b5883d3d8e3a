"""Benchmark: rule evaluation throughput with 100 active rules.

    python bench/engagement_rules.py [--events 20000] [--rules 100] [--database-url URL]

Creates its own database (see _setup.py) with 100 active rules over the event types (each
with a condition tree of 3-5 leaves on tier, language, order total and attributes) and a
thousand customers with orders, then measures:
- evaluation alone: events/s through the compiled conditions of every rule of the event's
  trigger, contexts built in memory (the cost of the condition language);
- matching from the database: events/s of `matching_rules(event)`, which reads the event's
  active rules and the customer's consents and evaluates them (no sends), one event at a time
  and through `matching_rules_batch` (500 events, two queries a batch).
Goal (issue 8): >= 5,000 events/s with 100 active rules. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, peak_rss_mb

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_engagement_bench"
TIERS = ["platinum", "gold", "silver", "bronze", ""]
LOCALES = ["en", "it", "he"]


def condition(rng: random.Random) -> dict[str, object]:
    leaves: list[dict[str, object]] = [
        {"field": "customer.value_tier", "op": "in", "value": rng.sample(TIERS, 2)},
        {"field": "order.total", "op": "gte", "value": rng.choice([20, 50, 100, 200])},
        {"not": {"field": "customer.locale", "op": "eq", "value": rng.choice(LOCALES)}},
        {"field": "customer.attributes.segment", "op": "ne", "value": "b2b"},
        {"field": "event.payload.channel", "op": "exists"},
    ]
    chosen = rng.sample(leaves, rng.randint(3, 5))
    return {"all": [*chosen[:2], {"any": chosen[2:]}]}


def seed(rule_count: int, customers: int) -> tuple[list[int], object]:
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Customer, Order
    from ascolto.engagement import services
    from ascolto.engagement.models import Event, EventType

    rng = random.Random(11)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    actor = Actor.system("bench")
    types = [t for t in EventType.values if t != "custom"]
    for i in range(rule_count):
        services.rule_create(
            workspace=workspace,
            actor=actor,
            name=f"Rule {i}",
            trigger=types[i % len(types)],
            conditions=condition(rng),
            actions=[{"type": "set_attribute", "key": "x", "value": 1}],
        )
    people = Customer.objects.bulk_create(
        Customer(
            workspace=workspace,
            name=f"C{i}",
            locale=rng.choice(LOCALES),
            value_tier=rng.choice(TIERS),
            attributes={"segment": rng.choice(["b2c", "b2b"])},
        )
        for i in range(customers)
    )
    now = dt.datetime.now(dt.UTC)
    orders = Order.objects.bulk_create(
        Order(
            workspace=workspace,
            customer=person,
            external_id=f"O{i}",
            placed_at=now,
            total=Decimal(rng.randint(5, 400)),
            currency="EUR",
            status="delayed",
        )
        for i, person in enumerate(people)
    )
    events = Event.objects.bulk_create(
        Event(
            workspace=workspace,
            external_id=f"E{i}",
            type=rng.choice(types),
            customer=order.customer,
            order=order,
            payload={"channel": "email"} if i % 2 else {},
            occurred_at=now,
        )
        for i, order in enumerate(orders)
    )
    return [e.pk for e in events], workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.set_defaults(database_url=DEFAULT_URL)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--customers", type=int, default=1_000)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=args.keep):
        from ascolto.engagement import services
        from ascolto.engagement.models import Event, Rule

        event_ids, workspace = seed(args.rules, args.customers)
        events = list(
            Event.objects.filter(pk__in=event_ids).select_related(
                "customer", "customer__workspace", "order"
            )
        )
        contexts = [(e.type, services.evaluation_context(e)) for e in events]
        by_trigger: dict[str, list[object]] = {}
        for rule in Rule.objects.filter(workspace=workspace, is_active=True):
            by_trigger.setdefault(rule.trigger, []).append(services.predicate_of(rule))
        matched = 0
        t0 = time.perf_counter()
        for i in range(args.events):
            trigger, context = contexts[i % len(contexts)]
            matched += sum(1 for p in by_trigger.get(trigger, []) if p(context))  # type: ignore[operator]
        pure = args.events / (time.perf_counter() - t0)

        sample = events[: min(len(events), 2_000)]
        t0 = time.perf_counter()
        db_matched = sum(len(services.matching_rules(e)) for e in sample)
        from_db = len(sample) / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        batch_matched = 0
        for start in range(0, len(events), 500):
            found = services.matching_rules_batch(events[start : start + 500])
            batch_matched += sum(len(v) for v in found.values())
        batched = len(events) / (time.perf_counter() - t0)

        print(machine())
        print(f"database: {args.database_url.split('@')[-1]}")
        print(f"{args.rules} active rules, {len(events)} distinct events")
        print(f"evaluation alone: {pure:,.0f} events/s ({matched} rule matches)")
        print(f"matching from the database: {from_db:,.0f} events/s ({db_matched} matches)")
        print(f"batched, 500 events a batch: {batched:,.0f} events/s ({batch_matched} matches)")
        own, _ = peak_rss_mb()
        print(f"peak RSS: {own:.0f} MB")


if __name__ == "__main__":
    main()
