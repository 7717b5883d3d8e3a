"""Benchmark: a campaign to 100,000 customers run end to end through its job, under a tight cap.

    python bench/engagement_campaign.py [--customers 100000] [--database-url URL]

Creates its own database (see _setup.py) with N customers (four tiers; 90% granted marketing
consent; 10% already sent a rule message in the last hours), an API inbox and a template, and a
frequency cap of one message a day. Then:
1. a campaign to the gold/silver/bronze tiers with a 10% hold-out is started and stopped after
   a few batches (a worker that went away), then run to the end through its Huey task
   (`run_campaign`, called in-process): throughput in recipients/s and messages/s;
2. the same task is run again (a re-delivered job): it must send nothing;
3. a second campaign to the same audience runs: the cap must skip everybody the first reached.
Asserts and prints: nobody over the cap, nobody sent the same campaign twice, every sent
recipient has exactly one message. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import add_database_argument, bench_database, machine, peak_rss_mb

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ascolto_campaign_bench"
TIERS = ["platinum", "gold", "silver", "bronze"]


def seed(customers: int) -> tuple[object, object, object]:
    from django.contrib.auth import get_user_model

    from ascolto.accounts.models import Membership
    from ascolto.connectors.api_channel import services as api_channel_services
    from ascolto.core.actors import Actor
    from ascolto.core.models import Workspace
    from ascolto.customers.models import Consent, Customer
    from ascolto.engagement import guards, services
    from ascolto.engagement.models import Event, Send
    from ascolto.inbox.models import Inbox

    rng = random.Random(7)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create(username="marketer", email="m@example.com")
    Membership.objects.create(workspace=workspace, user=user, role="admin")
    actor = Actor.system("bench")
    api_channel_services.api_inbox_create(
        workspace=workspace, name="Shop", actor=actor, routing=Inbox.Routing.MANUAL
    )
    services.template_upsert(
        workspace=workspace,
        actor=actor,
        key="promo",
        language="en",
        subject="Our spring sale",
        body="Hi {{ first_name }}, the spring sale starts today.",
    )
    config = guards.settings_for(workspace.pk)
    config.cap_count, config.cap_window_hours = 1, 24
    config.quiet_start = config.quiet_end = dt.time(0, 0)  # the bench runs at any hour
    config.save()
    people = Customer.objects.bulk_create(
        (
            Customer(
                workspace=workspace,
                name=f"Customer {i}",
                locale="en",
                timezone="UTC",
                value_tier=rng.choice(TIERS),
                attributes={"preferred_channel": "api"},
            )
            for i in range(customers)
        ),
        batch_size=5000,
    )
    Consent.objects.bulk_create(
        (
            Consent(
                workspace=workspace, customer=c, purpose="marketing", channel="any", granted=True
            )
            for c in people
            if rng.random() < 0.9
        ),
        batch_size=5000,
    )
    rule = services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(user),
        name="Delays",
        trigger="order.delayed",
        actions=[{"type": "send_message", "template": "promo"}],
    )
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    touched = [c for c in people if rng.random() < 0.1]
    events = Event.objects.bulk_create(
        (
            Event(
                workspace=workspace,
                external_id=f"e{c.pk}",
                type="order.delayed",
                customer=c,
                occurred_at=recent,
            )
            for c in touched
        ),
        batch_size=5000,
    )
    Send.objects.bulk_create(
        (
            Send(
                workspace=workspace,
                rule=rule,
                event=e,
                customer_id=e.customer_id,
                status=Send.Status.SENT,
                sent_at=recent,
            )
            for e in events
        ),
        batch_size=5000,
    )
    return workspace, user, config


def check(workspace: object, config: object) -> dict[str, int]:
    from django.db.models import Count

    from ascolto.engagement.models import CampaignRecipient, Send
    from ascolto.inbox.models import Message

    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
    per_customer: dict[int, int] = {}
    for customer_id, n in (
        Send.objects.filter(workspace=workspace, status="sent", sent_at__gt=since)
        .values_list("customer_id")
        .annotate(n=Count("id"))
    ):
        per_customer[customer_id] = per_customer.get(customer_id, 0) + n
    for customer_id, n in (
        CampaignRecipient.objects.filter(workspace=workspace, status="sent", sent_at__gt=since)
        .values_list("customer_id")
        .annotate(n=Count("id"))
    ):
        per_customer[customer_id] = per_customer.get(customer_id, 0) + n
    over_cap = sum(1 for n in per_customer.values() if n > config.cap_count)  # type: ignore[attr-defined]
    twice = (
        Message.objects.filter(workspace=workspace, metadata__engagement__campaign_id__isnull=False)
        .values("metadata__engagement__campaign_id", "conversation__customer_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    messages = Message.objects.filter(
        workspace=workspace, metadata__engagement__campaign_id__isnull=False
    ).count()
    sent = CampaignRecipient.objects.filter(workspace=workspace, status="sent").count()
    return {"over_cap": over_cap, "sent_twice": twice, "messages": messages, "sent_rows": sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    add_database_argument(parser)
    parser.set_defaults(database_url=DEFAULT_URL)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=args.keep):
        from django.db import transaction

        from ascolto.core.actors import Actor
        from ascolto.engagement import campaigns, tasks
        from ascolto.engagement.models import Campaign

        started = time.perf_counter()
        workspace, user, config = seed(args.customers)
        print(machine())
        print(f"database: {args.database_url.split('@')[-1]}")
        print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.0f} s")
        actor = Actor.for_user(user)  # type: ignore[arg-type]
        audience = {"field": "customer.value_tier", "op": "in", "value": TIERS[1:]}

        def launch(name: str) -> tuple[Campaign, int]:
            with transaction.atomic():
                return _launch(name)

        def _launch(name: str) -> tuple[Campaign, int]:
            campaign = campaigns.campaign_create(
                workspace=workspace,  # type: ignore[arg-type]
                actor=actor,
                name=name,
                template_key="promo",
                audience=audience,
                holdout_percent=10,
            )
            job = campaigns.campaign_start(campaign=campaign, actor=actor)
            return campaign, job.pk

        campaign, job_id = launch("Spring sale")
        t0 = time.perf_counter()
        # A worker that stops after a few batches, then the job's task runs to the end.
        campaigns.campaign_run(campaign_id=campaign.pk, actor=actor, max_batches=5)
        tasks.run_campaign.call_local(campaign.pk, job_id)
        elapsed = time.perf_counter() - t0
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.COMPLETED, campaign.status
        print(
            f"campaign 1: targeted {campaign.targeted_count:,}, held out "
            f"{campaign.held_out_count:,}, sent {campaign.sent_count:,}, skipped "
            f"{campaign.skipped_count:,}, failed {campaign.failed_count:,} in {elapsed:.1f} s: "
            f"{campaign.targeted_count / elapsed:,.0f} recipients/s, "
            f"{campaign.sent_count / elapsed:,.0f} messages/s"
        )
        t0 = time.perf_counter()
        tasks.run_campaign.call_local(campaign.pk, job_id)
        print(f"job run again: {time.perf_counter() - t0:.2f} s")

        second, second_job = launch("Spring sale, reminder")
        t0 = time.perf_counter()
        tasks.run_campaign.call_local(second.pk, second_job)
        elapsed = time.perf_counter() - t0
        second.refresh_from_db()
        print(
            f"campaign 2 (same audience, cap 1/day): sent {second.sent_count:,}, skipped "
            f"{second.skipped_count:,} in {elapsed:.1f} s "
            f"({second.targeted_count / elapsed:,.0f} recipients/s)"
        )
        figures = check(workspace, config)
        print(
            f"customers over the cap: {figures['over_cap']}; sent the same campaign twice: "
            f"{figures['sent_twice']}; campaign messages {figures['messages']:,} for "
            f"{figures['sent_rows']:,} sent recipients"
        )
        own, _ = peak_rss_mb()
        print(f"peak RSS: {own:.0f} MB")
        assert figures["over_cap"] == 0
        assert figures["sent_twice"] == 0
        assert figures["messages"] == figures["sent_rows"]


if __name__ == "__main__":
    main()
