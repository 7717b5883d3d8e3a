"""The API channel's intake: accepted messages completed by the worker (docs/decisions/0012).

A message accepted by the fast path (fastingest.py) is a pending `InboundIntake` row holding
the validated body and the message id reserved for it. `intake_process` claims pending rows one
transaction at a time (FOR UPDATE SKIP LOCKED, so several workers share the backlog and never
take the same row), stores each through the inbox write path (customer match, threading,
message, timeline, outbox, realtime push after commit) and marks the row processed in the same
transaction: a worker that dies leaves its current row pending, and the next run completes it
once. A row whose message cannot be stored (a domain error, say the customer's handle was
refused) is marked processed with the error, so it never blocks the rows behind it.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import OperationalError, close_old_connections, transaction
from django.utils import timezone

from ascolto.accounts.models import User
from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError
from ascolto.inbox.models import Inbox

logger = logging.getLogger(__name__)

BATCH = 200
KICK_KEY = "api-channel-intake-kick"

# The fast path's group commit (PostgreSQL): one statement for every waiting request; the
# message id is reserved from the messages' own sequence, so the acknowledgement names the id
# the message will have. A provider id seen before inserts nothing and returns no row.
INSERT_SQL = """
INSERT INTO api_channel_inboundintake
    (workspace_id, inbox_id, provider_id, payload, user_id, token_id, message_id,
     conversation_created, received_at, attempts, last_error)
SELECT r.workspace_id, r.inbox_id, r.provider_id, r.payload::jsonb, r.user_id, r.token_id,
       nextval(pg_get_serial_sequence('inbox_message', 'id')), false, now(), 0, ''
FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::bigint[])
    AS r(workspace_id, inbox_id, provider_id, payload, user_id, token_id)
ORDER BY r.inbox_id, r.provider_id
ON CONFLICT (inbox_id, provider_id) DO NOTHING
RETURNING inbox_id, provider_id, message_id
"""
# What the first delivery of a provider id was answered with (repeats get the same ids).
EXISTING_SQL = """
SELECT i.inbox_id, i.provider_id, i.message_id, i.conversation_id, i.customer_id,
       i.processed_at
FROM api_channel_inboundintake i
JOIN unnest(%s::bigint[], %s::text[]) AS r(inbox_id, provider_id)
  ON i.inbox_id = r.inbox_id AND i.provider_id = r.provider_id
"""


def wake_worker() -> None:
    """Enqueue the intake job unless one was enqueued in the last second (`intake_drain`
    reads again after clearing the mark, so no message waits for the sweeper because of it)."""
    try:
        if not cache.add(KICK_KEY, 1, timeout=1):
            return
        from ascolto.connectors.api_channel.tasks import process_intake

        process_intake()
    except Exception:
        # The message is stored: the periodic sweeper completes it if the queue is down.
        logger.exception("Could not enqueue the API channel intake job; the sweeper will run it")


def intake_drain(*, batch: int = BATCH, max_batches: int = 1000) -> int:
    """Process pending rows until none is left (or `max_batches`). Returns how many."""
    total = failures = 0
    for _ in range(max_batches):
        try:
            done = intake_process(limit=batch)
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


def intake_process(*, limit: int = BATCH) -> int:
    """Complete up to `limit` pending rows, each in a transaction of its own. Returns how many.

    Each transaction claims the oldest pending row nobody holds (FOR UPDATE SKIP LOCKED),
    stores its message and marks it processed, so locks (the row, the conversation) are held
    for one message only: the routing and SLA handlers, which lock conversations too, never
    wait behind a batch, and a worker that dies leaves only its current row pending. Raises
    what is not a DomainError (that row rolls back and stays pending)."""
    inboxes: dict[int, Inbox] = {}
    users: dict[int, User | None] = {}
    done = 0
    while done < limit:
        with transaction.atomic():
            row = (
                InboundIntake.objects.select_for_update(skip_locked=True)
                .filter(processed_at__isnull=True)
                .order_by("id")
                .first()
            )
            if row is None:
                break
            if row.inbox_id not in inboxes:
                inboxes[row.inbox_id] = Inbox.objects.select_related("workspace").get(
                    pk=row.inbox_id
                )
            user_id = row.user_id or 0
            if user_id not in users:
                users[user_id] = User.objects.filter(pk=user_id).first()
            _complete(row, inboxes[row.inbox_id], users[user_id])
            row.save(
                update_fields=[
                    "message_id",
                    "conversation_id",
                    "customer_id",
                    "conversation_created",
                    "processed_at",
                    "attempts",
                    "last_error",
                ]
            )
        done += 1
    return done


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
