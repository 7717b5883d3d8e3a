"""Outbox handler of the Twilio connector (GUIDE §3: idempotent, at least once).

inbox.message.sent in an SMS or WhatsApp inbox with a Twilio account: queue the job that sends
it. Enqueued here rather than on commit, as the API channel does: the reply was committed
before its event was dispatched, and a queue that is down fails the handler, which the outbox
retries, so no reply is lost.
"""

from __future__ import annotations

from ascolto.connectors.twilio import tasks
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.inbox.models import Channel, Message


@handles("inbox.message.sent")
def queue_reply(event: OutboxEvent) -> None:
    if event.payload.get("channel") not in (Channel.SMS, Channel.WHATSAPP):
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
    if inbox_id is not None and TwilioAccount.objects.filter(inbox_id=inbox_id).exists():
        tasks.send_reply(message_id)
