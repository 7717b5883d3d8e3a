"""Several workers at once on PostgreSQL: each SLA alert and its escalation happen once, and
concurrent routing passes never put more on an agent than their capacity.

These run only where the test database is PostgreSQL (DATABASE_URL=postgres://...); on the
SQLite pass of the suite they are skipped, since SQLite serialises writers anyway.
"""

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone

from ascolto.core.models import OutboxEvent
from ascolto.inbox import routing, services, sla
from ascolto.inbox.models import AgentProfile, Conversation, SLAAlert, SLAPolicy
from tests import concurrency
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
WORKERS = 3


@pytest.fixture(autouse=True)
def _on_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")


def run_at_once(work: Callable[[], object], workers: int = WORKERS) -> list[object]:
    """Start `workers` threads (each with its own database connection) on `work` together."""
    return concurrency.run_at_once(work, workers)


def test_concurrent_checks_fire_each_alert_and_escalation_once(workspace):
    SLAPolicy.objects.create(
        workspace=workspace,
        name="Tight",
        first_response_minutes=60,
        resolution_minutes=600,
        warn_before_minutes=480,
        escalation=["notify", "raise_priority"],
    )
    inbox = InboxFactory(workspace=workspace, routing="manual")
    started = timezone.now() - dt.timedelta(hours=3)
    for n in range(20):
        customer = CustomerFactory(workspace=workspace)
        services.message_receive(
            inbox=inbox, customer=customer, text=f"help {n}", occurred_at=started
        )
    assert Conversation.objects.filter(first_response_due_at__isnull=False).count() == 20

    now = timezone.now()
    results = run_at_once(lambda: sla.sla_check(now=now))

    # Per conversation: the first response breached (due 2 hours ago) and the resolution warned.
    assert SLAAlert.objects.filter(kind="breach", target="first_response").count() == 20
    assert SLAAlert.objects.filter(kind="warning", target="resolution").count() == 20
    assert SLAAlert.objects.count() == 40
    assert sum(r.breaches for r in results) == 20  # type: ignore[attr-defined]
    assert sum(r.warnings for r in results) == 20  # type: ignore[attr-defined]
    assert OutboxEvent.objects.filter(name="inbox.sla.breached").count() == 20
    assert set(Conversation.objects.values_list("priority", flat=True)) == {
        Conversation.Priority.HIGH
    }


def test_alerts_racing_past_the_row_lock_still_fire_once(workspace):
    """Even without the conversation lock (two workers inserting the same alert), the unique
    constraint lets exactly one insert win; the others see IntegrityError in a savepoint."""
    inbox = InboxFactory(workspace=workspace, routing="manual")
    conversation = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="hi"
    ).conversation
    due = timezone.now()

    def fire() -> bool:
        with transaction.atomic():
            return sla._fire(conversation, SLAAlert.Target.RESOLUTION, SLAAlert.Kind.WARNING, due)

    assert sorted(run_at_once(fire)) == [False] * (WORKERS - 1) + [True]
    assert SLAAlert.objects.filter(conversation=conversation).count() == 1


def test_concurrent_routing_passes_respect_capacity(workspace):
    agents = []
    for _ in range(2):
        user = UserFactory(password=None)
        MembershipFactory(workspace=workspace, user=user)
        AgentProfile.objects.create(
            workspace=workspace, user=user, availability="online", capacity={"*": 2}
        )
        agents.append(user)
    inbox = InboxFactory(workspace=workspace, routing="manual")
    for n in range(8):
        services.message_receive(
            inbox=inbox, customer=CustomerFactory(workspace=workspace), text=f"hello {n}"
        )
    inbox.routing = "least_loaded"
    inbox.save()
    # Each worker routes conversations of its own, so no conversation lock serialises them:
    # only the lock on the agents' profiles keeps their capacity.
    pending = list(Conversation.objects.order_by("id"))
    take = threading.Lock()

    def route() -> int:
        with take:
            mine = [pending.pop(), pending.pop()]
        assigned = 0
        with transaction.atomic():
            for conversation in mine:
                assigned += routing.route_conversation(conversation=conversation) is not None
        return assigned

    assert sum(run_at_once(route, workers=4)) == 4  # type: ignore[arg-type]
    loads = sorted(
        Conversation.objects.filter(assignee__in=agents).values_list("assignee_id", flat=True)
    )
    assert loads == sorted([agents[0].pk] * 2 + [agents[1].pk] * 2)
    assert Conversation.objects.filter(assignee__isnull=True).count() == 4
    assert not Conversation.objects.filter(transfer_count__gt=0).exists()


def test_concurrent_queue_passes_assign_each_conversation_once(workspace):
    for _ in range(2):
        user = UserFactory(password=None)
        MembershipFactory(workspace=workspace, user=user)
        AgentProfile.objects.create(workspace=workspace, user=user, availability="online")
    inbox = InboxFactory(workspace=workspace, routing="manual")
    for n in range(6):
        services.message_receive(
            inbox=inbox, customer=CustomerFactory(workspace=workspace), text=f"hello {n}"
        )
    inbox.routing = "round_robin"
    inbox.save()

    def route() -> int:
        with transaction.atomic():
            return routing.route_waiting(workspace_id=workspace.pk)

    assert sum(run_at_once(route)) == 6  # type: ignore[arg-type]
    assert not Conversation.objects.filter(assignee__isnull=True).exists()
    assert not Conversation.objects.filter(transfer_count__gt=0).exists()
