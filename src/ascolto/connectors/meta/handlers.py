"""Outbox handler of the Meta connector (GUIDE §3: idempotent, at least once): a reply in an
inbox with a Meta account queues the job that sends it (see twilio/handlers.py for why the job
is enqueued here and not on commit)."""

from __future__ import annotations

from ascolto.connectors.meta import tasks
from ascolto.connectors.meta.models import MetaAccount
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.inbox.models import Channel, Message


@handles("inbox.message.sent")
def queue_reply(event: OutboxEvent) -> None:
    if event.payload.get("channel") not in (Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM):
        return
    message_id = event.payload.get("message_id")
    if not isinstance(message_id, int):
        return
    inbox_id = (
        Message.objects.filter(
            workspace_id=event.workspace_id,
            pk=message_id,
            delivery_status=Message.Delivery.QUEUED,
        )
        .values_list("inbox_id", flat=True)
        .first()
    )
    if inbox_id is not None and MetaAccount.objects.filter(inbox_id=inbox_id).exists():
        tasks.send_reply(message_id)
