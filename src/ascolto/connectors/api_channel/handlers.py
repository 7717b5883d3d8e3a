"""Outbox handler of the API channel (GUIDE §3: idempotent, at least once).

inbox.message.sent in an API inbox: queue the job that POSTs the reply to the system's webhook.
The job is enqueued here, not after commit: the reply was committed before its event was
dispatched, and a queue that is down makes this handler fail, so the outbox retries it instead
of losing the reply. A repeated event queues a job that finds the reply no longer queued, or
sends it again under the same Idempotency-Key.
"""

from __future__ import annotations

from ascolto.connectors.api_channel import tasks
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.inbox.models import Channel, Message


@handles("inbox.message.sent")
def queue_reply(event: OutboxEvent) -> None:
    if event.payload.get("channel") != Channel.API:
        return
    message_id = event.payload.get("message_id")
    if not isinstance(message_id, int):
        return
    waiting = Message.objects.filter(
        workspace_id=event.workspace_id,
        pk=message_id,
        inbox__channel=Channel.API,
        delivery_status=Message.Delivery.QUEUED,
    ).exists()
    if waiting:
        tasks.deliver_reply(message_id)
