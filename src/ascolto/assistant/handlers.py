"""Outbox handlers: triage and the bot follow every inbound message.

Idempotent: a message's triage is stored once (MessageTriage is one-to-one), and the bot
remembers the last message it handled per conversation.
"""

from __future__ import annotations

from ascolto.assistant import services
from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.inbox import inbound
from ascolto.inbox.models import Message


@outbox.handles("inbox.message.received")
def on_message_received(event: OutboxEvent) -> None:
    message_id = event.payload.get("message_id")
    if not isinstance(message_id, int):
        return
    message = (
        Message.objects.select_related("conversation__workspace")
        .filter(workspace_id=event.workspace_id, pk=message_id, kind=Message.Kind.INBOUND)
        .first()
    )
    if message is None or not message.text.strip() or inbound.is_not_a_request(message):
        return
    triage = services.triage_message(message=message)
    services.bot_handle_message(message=message, triage=triage)
