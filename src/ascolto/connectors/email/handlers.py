"""Outbox handler of the email channel (GUIDE §3: idempotent, at least once).

inbox.message.sent in an email inbox: queue the job that sends the reply by SMTP. Queued here,
not after commit: the reply was committed before its event was dispatched, and a queue that is
down fails this handler so the outbox retries it. A repeated event queues a job that finds the
reply no longer queued.
"""

from __future__ import annotations

from ascolto.connectors.email import tasks
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.inbox.models import Channel, Message


@handles("inbox.message.sent")
def queue_reply(event: OutboxEvent) -> None:
    if event.payload.get("channel") != Channel.EMAIL:
        return
    message_id = event.payload.get("message_id")
    if not isinstance(message_id, int):
        return
    waiting = Message.objects.filter(
        workspace_id=event.workspace_id,
        pk=message_id,
        inbox__channel=Channel.EMAIL,
        delivery_status=Message.Delivery.QUEUED,
    ).exists()
    if waiting:
        tasks.send_reply(message_id)
