"""Many customers' inbound messages of one inbox stored in a few statements (a channel's batch).

`messages_receive_batch` is `message_receive` for a batch of plain-text messages: the same
threading (the customer's latest conversation continues while active, a resolved one reopens
within the inbox's reopen window, otherwise a new conversation links the old one; a message
that is not a request joins the latest conversation as it is), the same rows (message,
conversation changes and events, timeline entries, one `inbox.message.received` outbox event
per message) and the same pushes after commit, written with bulk inserts and updates.

Locks and waiting. The batch never waits for a lock another transaction holds on a
conversation, so it cannot be part of a deadlock with the outbox handlers (routing and SLA
lock conversations for a whole dispatch) or with another batch:
- on PostgreSQL each (inbox, customer) of the batch is claimed with a transaction-level
  advisory *try* lock, so two batches never thread the same customer's messages at once
  (which could open two conversations for one customer);
- the customers' latest conversations are locked with FOR UPDATE SKIP LOCKED.
A message whose customer or conversation is held elsewhere is answered `deferred` and nothing
of it is written; the caller stores it later (connectors/api_channel/intake.py does so one
message at a time, after the batch commits).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ascolto.core import outbox, realtime
from ascolto.core.bulkinsert import insert_rows
from ascolto.core.bulkupdate import update_rows
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity, Customer
from ascolto.customers.services import activities_record
from ascolto.inbox import events, inbound
from ascolto.inbox.models import Conversation, ConversationEvent, Inbox, Message
from ascolto.inbox.services.messages import _clean_content
from ascolto.inbox.services.search import search_texts_add

STORED, DUPLICATE, DEFERRED, REFUSED = "stored", "duplicate", "deferred", "refused"
OPEN = Conversation.Status.OPEN
# Advisory lock class of a customer's threading in an inbox (the two-key form, which never
# meets the one-key locks of periodic jobs, core/tasks.py).
INT4 = 0x7FFFFFFF
CONVERSATION_FIELDS = (
    "status",
    "snoozed_until",
    "first_customer_message_at",
    "last_customer_message_at",
    "waiting_since",
    "last_message_at",
    "last_message_preview",
    "message_count",
    "reopen_count",
    "resolved_at",
    "closed_at",
    "updated_at",
)


@dataclass
class InboundText:
    """A customer's plain-text message as a channel hands it over."""

    customer: Customer
    text: str
    provider_id: str
    subject: str = ""
    occurred_at: dt.datetime | None = None
    metadata: dict[str, object] = field(default_factory=dict)
    message_id: int | None = None  # reserved by an intake that acknowledged it already


@dataclass
class BatchOutcome:
    state: str  # STORED, DUPLICATE (stored before, or earlier in the batch), DEFERRED, REFUSED
    message_id: int | None = None
    conversation_id: int | None = None
    customer_id: int | None = None
    conversation_created: bool = False
    reopened: bool = False
    error: ValidationFailed | None = None


@dataclass
class _Thread:
    """One customer's conversation as the batch leaves it."""

    conversation: Conversation | None


@dataclass
class _Planned:
    index: int
    item: InboundText
    plain: str
    when: dt.datetime
    metadata: dict[str, Any]
    thread: _Thread
    conversation: Conversation
    created: bool
    reopened: bool
    events: list[ConversationEvent]


def messages_receive_batch(*, inbox: Inbox, items: list[InboundText]) -> list[BatchOutcome]:
    """Store and thread `items` (in the order given, which is the order they were received).
    Returns one outcome per item. Idempotent by (inbox, provider id): a provider id stored
    before, or repeated in the batch, is a DUPLICATE naming the stored message. A message that
    is not valid (empty, too long, a customer of another workspace) is REFUSED with its error;
    one whose customer is being threaded by another transaction is DEFERRED (module docstring).
    Call inside a transaction: everything of the batch commits together or not at all."""
    outcomes: list[BatchOutcome | None] = [None] * len(items)
    plains: dict[int, str] = {}
    for index, item in enumerate(items):
        try:
            if item.customer.workspace_id != inbox.workspace_id:
                raise ValidationFailed("The customer belongs to another workspace.")
            plain, _ = _clean_content(item.text, "")
            if not plain:
                raise ValidationFailed(
                    "A message needs text or an attachment.", field_errors={"text": ["Required."]}
                )
        except ValidationFailed as exc:
            outcomes[index] = BatchOutcome(REFUSED, customer_id=item.customer.pk, error=exc)
            continue
        plains[index] = plain
    _mark_duplicates(inbox, items, outcomes, plains)
    held = _claim_customers(inbox, sorted({items[i].customer.pk for i in plains}))
    threads = _latest_conversations(inbox, sorted({items[i].customer.pk for i in plains} - held))
    for index in list(plains):
        customer_id = items[index].customer.pk
        if customer_id in held or customer_id not in threads:
            outcomes[index] = BatchOutcome(DEFERRED, customer_id=customer_id)
            del plains[index]
    now = timezone.now()
    planned = [
        _plan(inbox, index, items[index], plains[index], threads[items[index].customer.pk], now)
        for index in sorted(plains)
    ]
    _write(inbox, planned, now)
    for plan in planned:
        outcomes[plan.index] = BatchOutcome(
            STORED,
            message_id=plan.item.message_id,
            conversation_id=plan.conversation.pk,
            customer_id=plan.item.customer.pk,
            conversation_created=plan.created,
            reopened=plan.reopened,
        )
    first: dict[str, BatchOutcome] = {}
    for index, item in enumerate(items):
        outcome = outcomes[index]
        if outcome is not None and outcome.state == STORED:
            first.setdefault(item.provider_id, outcome)
    result: list[BatchOutcome] = []
    for index, item in enumerate(items):
        outcome = outcomes[index]
        if outcome is None:  # a repeat of a provider id stored earlier in this batch
            earlier = first.get(item.provider_id)
            outcome = (
                BatchOutcome(
                    DUPLICATE,
                    message_id=earlier.message_id,
                    conversation_id=earlier.conversation_id,
                    customer_id=earlier.customer_id,
                )
                if earlier is not None
                else BatchOutcome(DEFERRED, customer_id=item.customer.pk)
            )
        result.append(outcome)
    return result


def _mark_duplicates(
    inbox: Inbox,
    items: list[InboundText],
    outcomes: list[BatchOutcome | None],
    plains: dict[int, str],
) -> None:
    """Provider ids stored before answer as duplicates; a repeat inside the batch is left
    unanswered (None) and answered with the first's outcome at the end."""
    stored = {
        provider_id: (pk, conversation_id, customer_id)
        for provider_id, pk, conversation_id, customer_id in Message.objects.filter(
            inbox=inbox, provider_id__in=sorted({items[i].provider_id for i in plains})
        ).values_list("provider_id", "pk", "conversation_id", "author_customer_id")
    }
    seen: set[str] = set()
    for index in sorted(plains):
        provider_id = items[index].provider_id
        if provider_id in stored:
            pk, conversation_id, customer_id = stored[provider_id]
            outcomes[index] = BatchOutcome(
                DUPLICATE, message_id=pk, conversation_id=conversation_id, customer_id=customer_id
            )
            del plains[index]
        elif provider_id in seen:
            del plains[index]
        else:
            seen.add(provider_id)


def _claim_customers(inbox: Inbox, customer_ids: list[int]) -> set[int]:
    """Try-lock each customer's threading in this inbox; returns the customers held elsewhere.
    (SQLite runs one writer at a time: nothing to claim.)"""
    if not customer_ids or not settings.IS_POSTGRES:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, pg_try_advisory_xact_lock(%s, (c.id & %s)::int) "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS c(id, n) ORDER BY c.n",
            [inbox.pk & INT4, INT4, customer_ids],
        )
        return {customer_id for customer_id, got in cursor.fetchall() if not got}


def _latest_conversations(inbox: Inbox, customer_ids: list[int]) -> dict[int, _Thread]:
    """Each customer's latest conversation in the inbox, locked (SKIP LOCKED: a customer whose
    conversation another transaction holds is left out), or None when they have none."""
    if not customer_ids:
        return {}
    latest: dict[int, int] = {}
    for pk, customer_id in (
        Conversation.objects.filter(
            inbox=inbox, customer_id__in=customer_ids, merged_into__isnull=True
        )
        .order_by("customer_id", "-last_message_at", "-id")
        .values_list("pk", "customer_id")
    ):
        latest.setdefault(customer_id, pk)
    locked = {
        c.pk: c
        for c in Conversation.objects.select_for_update(
            skip_locked=settings.IS_POSTGRES, of=("self",)
        )
        .filter(pk__in=sorted(latest.values()))
        .order_by("pk")
    }
    threads = {
        customer_id: _Thread(locked[pk])
        for customer_id, pk in latest.items()
        if pk in locked and locked[pk].merged_into_id is None
    }
    threads.update(
        {customer_id: _Thread(None) for customer_id in customer_ids if customer_id not in latest}
    )
    return threads


def _plan(
    inbox: Inbox, index: int, item: InboundText, plain: str, thread: _Thread, now: dt.datetime
) -> _Planned:
    """Thread one message and apply it to its conversation in memory (as `_receive` does)."""
    when = min(item.occurred_at, now) if item.occurred_at else now
    metadata = {**inbound.classify(inbox, item.customer, plain, when), **item.metadata}
    quiet = bool(metadata.get(inbound.NOT_A_REQUEST))
    latest = thread.conversation
    created = reopened = False
    if latest is not None and (latest.is_active or quiet):
        conversation = latest
    elif latest is not None and _reopens(inbox, latest, when):
        conversation, reopened = latest, True
    else:
        conversation = Conversation(
            workspace_id=inbox.workspace_id,
            inbox=inbox,
            channel=inbox.channel,
            customer=item.customer,
            subject=(item.subject or plain[:80])[:300],
            language=item.customer.locale,
            team_id=inbox.team_id,
            previous=latest if latest is not None and not latest.is_active else None,
            last_message_at=when,
        )
        thread.conversation, created = conversation, True
    conversation_events: list[ConversationEvent] = []
    if created:
        conversation_events.append(
            _event(inbox, conversation, ConversationEvent.Kind.CREATED, "", OPEN)
        )
    previous_status = conversation.status
    if reopened:
        conversation.reopen_count += 1
        conversation.resolved_at = None
        conversation.closed_at = None
        conversation_events.append(
            _event(
                inbox,
                conversation,
                ConversationEvent.Kind.REOPENED,
                previous_status,
                Conversation.Status.OPEN,
                "customer replied",
            )
        )
    elif not quiet and previous_status in (
        Conversation.Status.PENDING,
        Conversation.Status.SNOOZED,
    ):
        conversation_events.append(
            _event(
                inbox,
                conversation,
                ConversationEvent.Kind.STATUS,
                previous_status,
                Conversation.Status.OPEN,
                "customer replied",
            )
        )
    if not quiet:
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        conversation.first_customer_message_at = conversation.first_customer_message_at or when
        conversation.last_customer_message_at = when
        conversation.waiting_since = conversation.waiting_since or when
    conversation.last_message_at = max(conversation.last_message_at, when)
    conversation.last_message_preview = plain[:200]
    conversation.message_count += 1
    return _Planned(
        index, item, plain, when, metadata, thread, conversation, created, reopened,
        conversation_events,
    )  # fmt: skip


def _reopens(inbox: Inbox, latest: Conversation, when: dt.datetime) -> bool:
    window = dt.timedelta(hours=inbox.reopen_window_hours)
    closed_at = latest.resolved_at or latest.closed_at or latest.last_message_at
    return latest.status == Conversation.Status.RESOLVED and when - closed_at <= window


def _event(
    inbox: Inbox,
    conversation: Conversation,
    kind: str,
    from_value: str,
    to_value: str,
    reason: str = "",
) -> ConversationEvent:
    return ConversationEvent(
        workspace_id=inbox.workspace_id,
        conversation=conversation,
        kind=kind,
        from_value=from_value,
        to_value=to_value,
        reason=reason,
    )


def _write(inbox: Inbox, planned: list[_Planned], now: dt.datetime) -> None:
    if not planned:
        return
    # Conversations that existed before the batch and took messages (a conversation the
    # batch replaced by a new one, closed or resolved past the window, took none).
    existing = {p.conversation.pk: p.conversation for p in planned if p.conversation.pk is not None}
    insert_rows(
        Conversation, [p.conversation for p in planned if p.created and p.conversation.pk is None]
    )
    for conversation in existing.values():
        conversation.updated_at = now
    update_rows(Conversation, list(existing.values()), CONVERSATION_FIELDS)
    insert_rows(ConversationEvent, [e for p in planned for e in p.events])
    messages = insert_rows(
        Message,
        [
            Message(
                pk=p.item.message_id,
                workspace_id=inbox.workspace_id,
                conversation=p.conversation,
                inbox=inbox,
                kind=Message.Kind.INBOUND,
                author_customer=p.item.customer,
                text=p.plain,
                provider_id=p.item.provider_id or None,
                delivery_status=Message.Delivery.RECEIVED,
                metadata=p.metadata,
                created_at=p.when,
            )
            for p in planned
        ],
    )
    for plan, message in zip(planned, messages, strict=True):
        plan.item.message_id = message.pk
    search_texts_add(messages=messages)  # in order: a thread's search text reads as it came
    activities_record(
        activities=[
            Activity(
                workspace_id=inbox.workspace_id,
                customer=p.item.customer,
                kind=Activity.Kind.CONVERSATION,
                title=(
                    f"Conversation started: {p.conversation.subject}"
                    if p.created
                    else f"Conversation reopened: {p.conversation.subject}"
                ),
                body=p.plain[:500],
                data={"conversation_id": p.conversation.pk, "channel": inbox.channel},
                occurred_at=p.when,
                source_type="conversation",
                source_id=str(p.conversation.pk),
            )
            for p in planned
            if p.created or p.reopened
        ]
    )
    outbox.emit_many(
        events=[
            OutboxEvent(
                workspace_id=inbox.workspace_id,
                name="inbox.message.received",
                payload={
                    "message_id": message.pk,
                    "conversation_id": p.conversation.pk,
                    "conversation_created": p.created,
                    "reopened": p.reopened,
                    inbound.NOT_A_REQUEST: bool(p.metadata.get(inbound.NOT_A_REQUEST)),
                },
            )
            for p, message in zip(planned, messages, strict=True)
        ]
    )
    pushes: list[tuple[int, str, dict[str, Any]]] = []
    for plan, message in zip(planned, messages, strict=True):
        payload = {
            "conversation_id": plan.conversation.pk,
            "message": events.message_payload(message),
        }
        pushes.append((inbox.workspace_id, events.MESSAGE_CREATED, payload))
        if plan.created or plan.reopened:
            pushes.append(
                (
                    inbox.workspace_id,
                    events.CONVERSATION_CREATED if plan.created else events.CONVERSATION_UPDATED,
                    {"conversation": events.conversation_payload(plan.conversation)},
                )
            )
    realtime.publish_many_on_commit(events=pushes)
