"""Outbox events dispatched together (`dispatch_events`): a batch handler sees them in one call,
per-event handlers see each, completed handlers are recorded once, and a failure stays with
the event that caused it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from ascolto.core import outbox
from ascolto.core.models import OutboxDelivery, OutboxEvent
from ascolto.inbox.models import Conversation
from tests.core.conftest import Recorder

pytestmark = pytest.mark.django_db
NAME = "tests.batch.happened"


def events(workspace: Any, count: int) -> list[int]:
    created = OutboxEvent.objects.bulk_create(
        [OutboxEvent(workspace=workspace, name=NAME, payload={"n": n}) for n in range(count)]
    )
    return [e.pk for e in created]


def test_a_batch_handler_gets_the_events_at_once_and_others_each(workspace, recorder: Recorder):
    seen: list[list[int]] = []

    def together(batch: list[OutboxEvent]) -> None:
        seen.append([e.payload["n"] for e in batch])

    together.__qualname__ = "tests.together"
    outbox.handles_many(NAME)(together)
    outbox.handles(NAME)(recorder.handler("each"))
    ids = events(workspace, 3)

    assert outbox.dispatch_events(ids) == 3

    assert seen == [[0, 1, 2]]
    assert recorder.labels() == ["each", "each", "each"]
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
    # Dispatched events need no per-handler records: nothing will run for them again.
    assert not OutboxDelivery.objects.exists()
    assert outbox.dispatch_events(ids) == 0  # dispatched already: nothing runs again
    assert seen == [[0, 1, 2]]


def test_a_failing_batch_is_retried_event_by_event_and_only_the_bad_one_fails(
    workspace, recorder: Recorder
):
    calls: list[list[int]] = []

    def picky(batch: list[OutboxEvent]) -> None:
        calls.append([e.payload["n"] for e in batch])
        if any(e.payload["n"] == 1 for e in batch):
            raise ValueError("event 1 is bad")

    picky.__qualname__ = "tests.picky"
    outbox.handles_many(NAME)(picky)
    ids = events(workspace, 3)

    assert outbox.dispatch_events(ids) == 2

    assert calls == [[0, 1, 2], [0], [1], [2]]
    bad = OutboxEvent.objects.get(pk=ids[1])
    assert bad.dispatched_at is None
    assert "event 1 is bad" in bad.last_error
    assert bad.attempts == 1
    assert bad.next_attempt_at is not None
    done = OutboxEvent.objects.filter(pk__in=[ids[0], ids[2]], dispatched_at__isnull=False)
    assert done.count() == 2


def test_the_retry_of_a_partly_handled_event_runs_only_the_handler_that_failed(
    workspace, recorder: Recorder
):
    broken = {"on": True}

    def picky(batch: list[OutboxEvent]) -> None:
        for event in batch:
            recorder("picky", event.payload)
        if broken["on"] and any(e.payload["n"] == 1 for e in batch):
            raise ValueError("event 1 is bad")

    picky.__qualname__ = "tests.picky_retry"
    each = recorder.handler("each")
    outbox.handles(NAME)(each)
    outbox.handles_many(NAME)(picky)
    ids = events(workspace, 2)

    assert outbox.dispatch_events(ids) == 1
    # Only the event to be retried keeps the record of the handler that completed.
    assert list(OutboxDelivery.objects.values_list("event_id", "handler")) == [
        (ids[1], f"{each.__module__}.{each.__qualname__}")
    ]

    broken["on"] = False
    recorder.calls.clear()
    assert outbox.dispatch_events([ids[1]]) == 1
    assert recorder.labels() == ["picky"]
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_batch_handler_serves_a_single_event_dispatch(workspace):
    seen: list[int] = []

    def together(batch: list[OutboxEvent]) -> None:
        seen.extend(e.payload["n"] for e in batch)

    together.__qualname__ = "tests.together_single"
    outbox.handles_many(NAME)(together)
    (event_id,) = events(workspace, 1)

    assert outbox.dispatch_event(event_id)
    assert seen == [0]
    assert OutboxDelivery.objects.filter(event_id=event_id).count() == 1


def test_emit_many_dispatches_after_commit_in_one_task(
    workspace, recorder: Recorder, django_capture_on_commit_callbacks: Any
):
    outbox.handles(NAME)(recorder.handler("each"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        outbox.emit_many(
            events=[OutboxEvent(workspace=workspace, name=NAME, payload={}) for _ in range(5)]
        )
    assert len(callbacks) == 1
    assert recorder.labels() == ["each"] * 5


def test_messages_received_together_are_routed_in_one_pass(workspace):
    from ascolto.inbox import services
    from tests.customers.factories import CustomerFactory
    from tests.inbox.factories import InboxFactory
    from tests.inbox.test_routing import agent

    inbox = InboxFactory(workspace=workspace, routing="least_loaded")
    staff = [agent(workspace, capacity={"*": 5}) for _ in range(2)]
    ids = []
    with transaction.atomic():
        for _ in range(4):
            customer = CustomerFactory(workspace=workspace)
            services.message_receive(inbox=inbox, customer=customer, text="help")
    ids = list(
        OutboxEvent.objects.filter(name="inbox.message.received").values_list("pk", flat=True)
    )

    assert outbox.dispatch_events(ids) == 4

    load = sorted(Conversation.objects.filter(assignee=user).count() for user in staff)
    assert load == [2, 2]
