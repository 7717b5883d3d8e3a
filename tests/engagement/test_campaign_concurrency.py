"""Races on PostgreSQL: two workers running one campaign at once send each message once, and two
campaigns racing for a customer's last slot under the frequency cap take it only once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction

from ascolto.core.actors import Actor
from ascolto.customers.models import Consent
from ascolto.engagement import campaigns, guards, services
from ascolto.engagement.models import CampaignRecipient
from ascolto.inbox.models import Message
from tests.customers.factories import CustomerFactory
from tests.engagement.conftest import SYSTEM

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _only_on_postgres(settings: Any) -> None:
    if not settings.IS_POSTGRES:
        pytest.skip("row locks are what this checks; run with DATABASE_URL=postgres://...")


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread (each manages its own transactions), released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result(timeout=120) for f in [pool.submit(run, c) for c in calls]]


@pytest.fixture
def audience(workspace: Any, inbox: Any) -> list[Any]:
    services.template_upsert(
        workspace=workspace, actor=SYSTEM, key="promo", language="en", body="Sale today."
    )
    people = []
    for _ in range(12):
        customer = CustomerFactory(
            workspace=workspace, timezone="UTC", attributes={"preferred_channel": "api"}
        )
        Consent.objects.create(
            workspace=workspace, customer=customer, purpose="marketing", channel="any", granted=True
        )
        people.append(customer)
    return people


def started(workspace: Any, admin_user: Any, name: str) -> Any:
    campaign = campaigns.campaign_create(
        workspace=workspace, actor=Actor.for_user(admin_user), name=name, template_key="promo"
    )
    with transaction.atomic():
        campaigns.campaign_start(campaign=campaign, actor=Actor.for_user(admin_user))
    campaign.refresh_from_db()
    return campaign


def messages_per_customer(people: list[Any]) -> list[int]:
    return [Message.objects.filter(conversation__customer=c, kind="bot").count() for c in people]


def test_two_workers_on_one_campaign_send_each_message_once(
    workspace: Any, admin_user: Any, audience: list[Any]
) -> None:
    campaign = started(workspace, admin_user, "Spring")

    def work() -> campaigns.RunOutcome:
        return campaigns.campaign_run(campaign_id=campaign.pk, actor=SYSTEM, now=NOON, batch_size=3)

    at_once(work, work)

    assert messages_per_customer(audience) == [1] * len(audience)
    assert campaign.recipients.filter(status=CampaignRecipient.Status.SENT).count() == 12


def test_two_campaigns_racing_for_the_last_slot_under_the_cap_take_it_once(
    workspace: Any, admin_user: Any, audience: list[Any]
) -> None:
    config = guards.settings_for(workspace.pk)
    config.cap_count, config.cap_window_hours = 1, 24
    config.quiet_start = config.quiet_end = dt.time(0, 0)
    config.save()
    first = started(workspace, admin_user, "First")
    second = started(workspace, admin_user, "Second")

    def work(campaign: Any) -> Callable[[], campaigns.RunOutcome]:
        return lambda: campaigns.campaign_run(
            campaign_id=campaign.pk, actor=SYSTEM, now=NOON, batch_size=2
        )

    at_once(work(first), work(second))

    assert messages_per_customer(audience) == [1] * len(audience)
    sent = CampaignRecipient.objects.filter(status=CampaignRecipient.Status.SENT).count()
    assert sent == 12
