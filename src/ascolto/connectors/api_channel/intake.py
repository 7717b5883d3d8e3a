"""The API channel's intake: accepted messages completed by the worker (docs/decisions/0012).

A message accepted by the fast path (fastingest.py) is a pending `InboundIntake` row holding
the validated body and the message id reserved for it. `intake_process` claims a batch of
pending rows (FOR UPDATE SKIP LOCKED, so several workers share the backlog and never take the
same row) and completes it in one transaction with set-based statements: the customers owning
the handles (`customers.services.customers_by_handles`), then threading, messages, timeline,
outbox events and realtime pushes after commit (`inbox.services.messages_receive_batch`), and
the rows marked processed. A worker that dies leaves its batch pending, and the next run
completes each row once. A row whose message cannot be stored (a domain error, say the
customer's handle was refused) is marked processed with the error, so it never blocks the rows
behind it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db import OperationalError, close_old_connections, transaction
from django.utils import timezone

from ascolto.accounts.models import User
from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.core.actors import Actor
from ascolto.core.bulkupdate import update_rows
from ascolto.core.errors import DomainError
from ascolto.customers import services as customer_services
from ascolto.customers.services import Handle
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Inbox
from ascolto.inbox.services import batch
from ascolto.inbox.services.batch import InboundText

if TYPE_CHECKING:
    from ascolto.connectors.api_channel.services import IngestItem

logger = logging.getLogger(__name__)

BATCH = 200
PROCESSED_FIELDS = [
    "message_id",
    "conversation_id",
    "customer_id",
    "conversation_created",
    "processed_at",
    "attempts",
    "last_error",
]
KICK_KEY = "api-channel-intake-kick"
KICK_TTL = 60  # a queued job lost with its queue: the sweeper runs every minute anyway

# The fast path's group commit (PostgreSQL): one statement for every waiting request; the
# message id is reserved from the messages' own sequence, so the acknowledgement names the id
# the message will have. A provider id seen before inserts nothing and returns no row. The rows
# come as one JSON document (`rows_document`): psycopg quotes a Python list for an array
# literal element by element in Python (~50 µs a row with its body), json.dumps in C.
INSERT_SQL = """
INSERT INTO api_channel_inboundintake
    (workspace_id, inbox_id, provider_id, payload, user_id, token_id, message_id,
     conversation_created, received_at, attempts, last_error)
SELECT r.workspace_id, r.inbox_id, r.provider_id, r.payload, r.user_id, r.token_id,
       nextval(pg_get_serial_sequence('inbox_message', 'id')), false, now(), 0, ''
FROM json_to_recordset(%s::json) AS r(
    workspace_id bigint, inbox_id bigint, provider_id text, payload jsonb, user_id bigint,
    token_id bigint
)
ORDER BY r.inbox_id, r.provider_id
ON CONFLICT (inbox_id, provider_id) DO NOTHING
RETURNING inbox_id, provider_id, message_id
"""
# What the first delivery of a provider id was answered with (repeats get the same ids). One
# probe of the unique index per id, whatever the statistics say: the LIMIT keeps the lateral
# subquery from being flattened into a join the planner could hash (a prepared statement's
# generic plan, made while the table was small, would then scan the whole ledger each time).
# The keys come as `keys_document`.
EXISTING_SQL = """
SELECT i.inbox_id, i.provider_id, i.message_id, i.conversation_id, i.customer_id,
       i.processed_at
FROM json_to_recordset(%s::json) AS r(inbox_id bigint, provider_id text)
CROSS JOIN LATERAL (
    SELECT * FROM api_channel_inboundintake x
    WHERE x.inbox_id = r.inbox_id AND x.provider_id = r.provider_id
    LIMIT 1
) i
"""


def rows_document(
    rows: Iterable[tuple[int, int, str, str, int | None, int | None]],
) -> str:
    """INSERT_SQL's parameter: (workspace id, inbox id, provider id, payload, user id, token
    id) rows as one JSON array. The payload is JSON text already (the validated body) and goes
    in as it is, not quoted again."""
    return (
        "["
        + ",".join(
            f'{{"workspace_id":{int(w)},"inbox_id":{int(i)},"provider_id":{json.dumps(p)},'
            f'"payload":{payload},"user_id":{_number(u)},"token_id":{_number(t)}}}'
            for w, i, p, payload, u, t in rows
        )
        + "]"
    )


def keys_document(keys: Iterable[tuple[int, str]]) -> str:
    """EXISTING_SQL's parameter (and the fast path's STORED_SQL): (inbox id, provider id)
    pairs as one JSON array."""
    return json.dumps([{"inbox_id": i, "provider_id": p} for i, p in keys])


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def wake_worker() -> None:
    """Enqueue the intake job unless one is queued and has not started yet (the job clears
    the mark when it starts, and `intake_drain` reads again after clearing it, so no message
    waits for the sweeper because of it). One queued job at most: under a steady load, jobs
    queued faster than they finish would push the outbox dispatches ever further back."""
    try:
        if not cache.add(KICK_KEY, 1, timeout=KICK_TTL):
            return
        from ascolto.connectors.api_channel.tasks import process_intake

        process_intake()
    except Exception:
        # The message is stored: the periodic sweeper completes it if the queue is down.
        logger.exception("Could not enqueue the API channel intake job; the sweeper will run it")


def intake_drain(*, batch: int = BATCH, max_batches: int = 1000) -> int:
    """Process pending rows until none is left (or `max_batches`). Returns how many."""
    total = failures = 0
    for turn in range(max_batches):
        try:
            # Rows of customers another batch holds stay pending for the next batch here,
            # which claims them first; the last batch waits for them (`intake_process`).
            done = intake_process(limit=batch, held_later=turn < max_batches - 1)
        except OperationalError:
            # A deadlock or a lost connection: the batch rolled back and stays pending (the
            # sweeper takes it up if this keeps failing).
            failures += 1
            logger.warning("API channel intake batch rolled back", exc_info=True)
            close_old_connections()
            if failures >= 3:
                raise
            continue
        failures = 0
        total += done
        if done:
            continue
        cache.delete(KICK_KEY)
        done = intake_process(limit=batch)  # what arrived while the mark was set
        total += done
        if not done:
            break
    return total


def intake_process(*, limit: int = BATCH, held_later: bool = False) -> int:
    """Complete up to `limit` pending rows. Returns how many.

    The oldest pending rows nobody holds are claimed (FOR UPDATE SKIP LOCKED) and completed
    together in one transaction with set-based statements (`_complete_batch`): customers,
    conversations, messages, timeline and outbox rows, and the rows marked processed. A worker
    that dies leaves the whole batch pending, and the next run stores each row once. The batch
    waits for no lock on a conversation (inbox/services/batch.py), so it cannot deadlock with
    the routing and SLA handlers. The rows it had to leave are completed after its commit one
    transaction each: a message with attachments or HTML, and the messages of customers
    another transaction was threading (held). With `held_later`, the held ones stay pending
    instead, for the caller's next batch, unless this batch stored nothing: the one-message
    path costs several times a batch's share, and by the next batch the other transaction
    has usually committed. Raises what is not a DomainError (the batch rolls back, pending)."""
    with transaction.atomic():
        rows = list(
            InboundIntake.objects.select_for_update(skip_locked=True)
            .filter(processed_at__isnull=True)
            .order_by("id")[:limit]
        )
        if not rows:
            return 0
        single, held = _complete_batch(rows)
    done = len(rows) - len(single) - len(held)
    if not held_later or not done:
        single += held
    for row_id in sorted(single):
        done += _complete_one(row_id)
    return done


def _complete_batch(rows: list[InboundIntake]) -> tuple[list[int], list[int]]:
    """Store the rows' messages. Returns the ids of the rows left: those for the one-message
    path (`_complete_one`), and those of customers another transaction holds."""
    from ascolto.connectors.api_channel import services

    inboxes = Inbox.objects.select_related("workspace").in_bulk({row.inbox_id for row in rows})
    users = User.objects.in_bulk({row.user_id for row in rows if row.user_id})
    left: list[int] = []
    held: list[int] = []
    groups: dict[tuple[int, int | None, int | None], list[tuple[InboundIntake, IngestItem]]] = {}
    for row in rows:
        try:
            item = services.item_from_payload(row.payload)
        except ValueError:
            left.append(row.pk)  # `_complete_one` raises it, row by row, as before
            continue
        if item.attachments or item.html:
            left.append(row.pk)  # stored, cleaned and checked by the one-message path
            continue
        # The message was received when it was accepted, not when the worker came to it.
        item.occurred_at = item.occurred_at or row.received_at
        groups.setdefault((row.inbox_id, row.user_id, row.token_id), []).append((row, item))
    now = timezone.now()
    finished: list[InboundIntake] = []
    for (inbox_id, user_id, token_id), group in groups.items():
        inbox = inboxes[inbox_id]
        user = users.get(user_id) if user_id else None
        actor = (
            Actor.for_user(user, token_id=token_id)
            if user is not None
            else Actor.system("api-channel")
        )
        found = customer_services.customers_by_handles(
            workspace=inbox.workspace,
            handles=[Handle(i.identity_kind, i.identity_value, i.name) for _, i in group],
            actor=actor,
        )
        texts: list[InboundText] = []
        taken: list[InboundIntake] = []
        for (row, item), customer in zip(group, found.customers, strict=True):
            if isinstance(customer, DomainError):
                _refused(row, customer.message, now)
                finished.append(row)
                continue
            texts.append(
                InboundText(
                    customer=customer,
                    text=item.text,
                    provider_id=item.provider_id,
                    subject=item.subject,
                    occurred_at=item.occurred_at,
                    metadata=item.metadata,
                    message_id=row.message_id,
                )
            )
            taken.append(row)
        outcomes = inbox_services.messages_receive_batch(inbox=inbox, items=texts)
        for row, outcome in zip(taken, outcomes, strict=True):
            if outcome.state == batch.DEFERRED:
                held.append(row.pk)
                continue
            if outcome.state == batch.REFUSED:
                assert outcome.error is not None
                _refused(row, outcome.error.message, now)
            else:
                row.attempts += 1
                row.message_id = outcome.message_id
                row.conversation_id = outcome.conversation_id
                row.customer_id = outcome.customer_id
                row.conversation_created = outcome.conversation_created
                row.processed_at = now
            finished.append(row)
    update_rows(InboundIntake, finished, PROCESSED_FIELDS)
    return left, held


def _refused(row: InboundIntake, error: str, now: dt.datetime) -> None:
    logger.warning("API channel message %s could not be stored: %s", row.pk, error)
    row.attempts += 1
    row.last_error = error
    row.message_id = None  # never stored: a repeat is answered with the error (services)
    row.processed_at = now


def _complete_one(row_id: int) -> int:
    """Store one row's message through the one-message write path in a transaction of its
    own (waiting for its conversation's lock). Returns 1, or 0 when another worker has it."""
    with transaction.atomic():
        row = (
            InboundIntake.objects.select_for_update(skip_locked=True)
            .filter(pk=row_id, processed_at__isnull=True)
            .first()
        )
        if row is None:
            return 0
        inbox = Inbox.objects.select_related("workspace").get(pk=row.inbox_id)
        user = User.objects.filter(pk=row.user_id).first() if row.user_id else None
        _complete(row, inbox, user)
        row.save(update_fields=PROCESSED_FIELDS)
    return 1


def _complete(row: InboundIntake, inbox: Inbox, user: User | None) -> None:
    from ascolto.connectors.api_channel import services

    actor = (
        Actor.for_user(user, token_id=row.token_id)
        if user is not None
        else Actor.system("api-channel")
    )
    row.attempts += 1
    item = services.item_from_payload(row.payload)
    # The message was received when it was accepted, not when the worker came to it.
    item.occurred_at = item.occurred_at or row.received_at
    try:
        with transaction.atomic():
            result = services.message_store(
                inbox=inbox,
                item=item,
                actor=actor,
                message_id=row.message_id,
            )
    except DomainError as exc:
        logger.warning("API channel message %s could not be stored: %s", row.pk, exc.message)
        row.last_error = exc.message
        row.message_id = None  # never stored: a repeat is answered with the error (services)
        row.processed_at = timezone.now()
        return
    row.message_id = result.message_id
    row.conversation_id = result.conversation_id
    row.customer_id = result.customer_id
    row.conversation_created = result.conversation_created
    row.processed_at = timezone.now()


def intake_pending_count() -> int:
    return InboundIntake.objects.filter(processed_at__isnull=True).count()
