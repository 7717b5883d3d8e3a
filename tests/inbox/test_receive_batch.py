"""A batch of inbound messages (`messages_receive_batch`) threads and records exactly what the
same messages received one at a time (`message_receive`) do: same conversations (continued,
reopened within the window, new and linked after it or after a close), same events, timeline
entries, outbox events and pushes; stored once per provider id within and across batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity, Customer
from ascolto.inbox import services
from ascolto.inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationSearchText,
    Inbox,
    Message,
)
from ascolto.inbox.services.batch import DEFERRED, DUPLICATE, REFUSED, STORED, InboundText
from tests.accounts.factories import WorkspaceFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.django_db
BASE = timezone.now() - dt.timedelta(days=1)
Status = Conversation.Status
# A customer's conversation in the inbox before the messages come.
STATES = ["none", "open", "pending", "snoozed", "resolved", "resolved-long-ago", "closed"]


def before(inbox: Inbox, customer: Customer, state: str) -> Conversation | None:
    if state == "none":
        return None
    long_ago = BASE - dt.timedelta(hours=inbox.reopen_window_hours + 5)
    at = long_ago if state == "resolved-long-ago" else BASE - dt.timedelta(hours=1)
    status = {"resolved-long-ago": Status.RESOLVED}.get(state, state)
    return Conversation.objects.create(
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        channel=inbox.channel,
        customer=customer,
        subject=f"Earlier ({state})",
        status=status,
        last_message_at=at,
        message_count=1,
        first_customer_message_at=at,
        resolved_at=at if status in (Status.RESOLVED, Status.CLOSED) else None,
        closed_at=at if status == Status.CLOSED else None,
        snoozed_until=BASE + dt.timedelta(days=3) if status == Status.SNOOZED else None,
    )


def world(states: list[str]) -> tuple[Inbox, list[Customer]]:
    workspace = WorkspaceFactory()
    inbox = InboxFactory(workspace=workspace, channel="api")
    customers = [CustomerFactory(workspace=workspace) for _ in states]
    for customer, state in zip(customers, states, strict=True):
        before(inbox, customer, state)
    return inbox, customers


def picture(inbox: Inbox, customers: list[Customer]) -> dict[str, Any]:
    """What the inbox holds, with ids replaced by the order things appeared in."""
    index = {c.pk: n for n, c in enumerate(customers)}
    conversations = list(Conversation.objects.filter(inbox=inbox).order_by("created_at", "pk"))
    label = {c.pk: n for n, c in enumerate(conversations)}
    messages = list(Message.objects.filter(inbox=inbox).order_by("pk"))
    outbox = OutboxEvent.objects.filter(
        workspace_id=inbox.workspace_id, name="inbox.message.received"
    ).order_by("pk")
    activities = Activity.objects.filter(
        workspace_id=inbox.workspace_id, kind=Activity.Kind.CONVERSATION
    ).order_by("pk")
    return {
        "conversations": [
            (
                index[c.customer_id],
                c.status,
                c.subject,
                c.reopen_count,
                c.message_count,
                label.get(c.previous_id or 0),
                c.first_customer_message_at,
                c.last_customer_message_at,
                c.waiting_since,
                c.last_message_at,
                c.last_message_preview,
                c.resolved_at,
                c.closed_at,
                c.snoozed_until,
                [
                    (e.kind, e.from_value, e.to_value, e.reason)
                    for e in ConversationEvent.objects.filter(conversation=c).order_by("pk")
                ],
            )
            for c in conversations
        ],
        "messages": [
            (m.provider_id, label[m.conversation_id], index[m.author_customer_id], m.text)
            for m in messages
        ],
        "outbox": [
            (
                e.payload["conversation_created"],
                e.payload["reopened"],
                label[e.payload["conversation_id"]],
            )
            for e in outbox
        ],
        "search": [
            (label[row.conversation_id], row.text)
            for row in ConversationSearchText.objects.filter(conversation__inbox=inbox).order_by(
                "pk"
            )
        ],
        "timeline": [(a.title, a.body, index[a.customer_id], a.occurred_at) for a in activities],
    }


# Characters that need quoting wherever texts travel to the database in bulk (the search
# texts' appends go as one JSON document).
QUOTED = 'said "hi" \\ {back}, [ok] — שלום 📦'


def one_at_a_time(inbox: Inbox, customers: list[Customer], sent: list[tuple[int, str]]) -> None:
    for n, (who, provider_id) in enumerate(sent):
        with transaction.atomic():
            services.message_receive(
                inbox=inbox,
                customer=customers[who],
                text=f"{provider_id} from {who} {QUOTED}",
                provider_id=provider_id,
                occurred_at=BASE + dt.timedelta(minutes=n),
            )


def items(customers: list[Customer], sent: list[tuple[int, str]]) -> list[InboundText]:
    return [
        InboundText(
            customer=customers[who],
            text=f"{provider_id} from {who} {QUOTED}",
            provider_id=provider_id,
            occurred_at=BASE + dt.timedelta(minutes=n),
        )
        for n, (who, provider_id) in enumerate(sent)
    ]


def in_batches(
    inbox: Inbox, customers: list[Customer], sent: list[tuple[int, str]], size: int
) -> list[Any]:
    outcomes = []
    every = items(customers, sent)
    for start in range(0, len(every), size):
        with transaction.atomic():
            outcomes += services.messages_receive_batch(
                inbox=inbox, items=every[start : start + size]
            )
    return outcomes


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    states=st.lists(st.sampled_from(STATES), min_size=1, max_size=3),
    sent=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["p1", "p2", "p3", "p4", "p5", "p6"])),
        min_size=1,
        max_size=8,
    ),
    size=st.integers(1, 8),
)
def test_a_batch_threads_and_records_as_one_message_at_a_time(
    states: list[str], sent: list[tuple[int, str]], size: int
) -> None:
    sent = [(who % len(states), provider_id) for who, provider_id in sent]
    # The same provider id always comes from the same customer (a provider's retry).
    owner: dict[str, int] = {}
    sent = [(owner.setdefault(provider_id, who), provider_id) for who, provider_id in sent]
    reference_inbox, reference_customers = world(states)
    one_at_a_time(reference_inbox, reference_customers, sent)
    inbox, customers = world(states)

    outcomes = in_batches(inbox, customers, sent, size)

    assert picture(inbox, customers) == picture(reference_inbox, reference_customers)
    assert all(o.state in (STORED, DUPLICATE) for o in outcomes)
    stored = {m.provider_id: m.pk for m in Message.objects.filter(inbox=inbox)}
    assert len(stored) == len({provider_id for _, provider_id in sent})
    for (_, provider_id), outcome in zip(sent, outcomes, strict=True):
        assert outcome.message_id == stored[provider_id]


def test_a_batch_mixes_new_continued_reopened_and_repeated_messages(db: Any) -> None:
    inbox, (fresh, talking, resolved) = world(["none", "open", "resolved"])
    old = Message.objects.create(
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        conversation=Conversation.objects.get(customer=talking),
        kind=Message.Kind.INBOUND,
        author_customer=talking,
        text="earlier",
        provider_id="before",
    )
    batch = items(
        [fresh, talking, resolved],
        [(0, "a"), (1, "b"), (2, "c"), (0, "a"), (1, "before"), (0, "d")],
    )
    with transaction.atomic():
        outcomes = services.messages_receive_batch(inbox=inbox, items=batch)

    assert [o.state for o in outcomes] == [STORED, STORED, STORED, DUPLICATE, DUPLICATE, STORED]
    assert outcomes[3].message_id == outcomes[0].message_id
    assert outcomes[4].message_id == old.pk
    assert outcomes[0].conversation_created
    assert not outcomes[5].conversation_created
    assert outcomes[0].conversation_id == outcomes[5].conversation_id
    reopened = Conversation.objects.get(pk=outcomes[2].conversation_id)
    assert outcomes[2].reopened
    assert reopened.status == Status.OPEN
    assert reopened.reopen_count == 1
    assert reopened.resolved_at is None
    assert Message.objects.filter(inbox=inbox).count() == 5
    assert Conversation.objects.get(pk=outcomes[0].conversation_id).message_count == 2


def test_invalid_messages_are_refused_alone(db: Any) -> None:
    inbox, (customer,) = world(["none"])
    stranger = CustomerFactory()
    batch = [
        InboundText(customer=customer, text="", provider_id="empty"),
        InboundText(customer=stranger, text="hello", provider_id="stranger"),
        InboundText(customer=customer, text="x" * 100_001, provider_id="long"),
        InboundText(customer=customer, text="fine", provider_id="ok"),
    ]
    with transaction.atomic():
        outcomes = services.messages_receive_batch(inbox=inbox, items=batch)

    assert [o.state for o in outcomes] == [REFUSED, REFUSED, REFUSED, STORED]
    assert all(o.error is not None for o in outcomes[:3])
    assert list(Message.objects.values_list("provider_id", flat=True)) == ["ok"]


def test_a_batch_pushes_each_message_after_commit(
    db: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from ascolto.core import realtime

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(realtime, "_send_many", lambda batch: sent.extend(batch))
    inbox, customers = world(["none", "open"])
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = services.messages_receive_batch(
            inbox=inbox, items=items(customers, [(0, "a"), (1, "b")])
        )
        assert not sent

    created = [m["payload"] for _, m in sent if m["event"] == "inbox.message.created"]
    assert [p["message"]["id"] for p in created] == [o.message_id for o in outcomes]
    assert [m["event"] for _, m in sent].count("inbox.conversation.created") == 1


def test_a_customer_threaded_elsewhere_is_deferred_untouched(db: Any, monkeypatch: Any) -> None:
    from ascolto.inbox.services import batch as batch_module

    inbox, customers = world(["open", "none"])
    monkeypatch.setattr(batch_module, "_claim_customers", lambda inbox, ids: {customers[0].pk})
    with transaction.atomic():
        outcomes = services.messages_receive_batch(
            inbox=inbox, items=items(customers, [(0, "a"), (1, "b")])
        )

    assert [o.state for o in outcomes] == [DEFERRED, STORED]
    assert list(Message.objects.values_list("provider_id", flat=True)) == ["b"]
