"""Outbox handler: the inbox's automatic replies follow every inbound message, whatever the
connector (idempotent: see autoreply.py)."""

from __future__ import annotations

from ascolto.connectors.settings_ui import autoreply
from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.inbox.models import Message


@outbox.handles("inbox.message.received")
def auto_reply(event: OutboxEvent) -> None:
    message_id = event.payload.get("message_id")
    if not isinstance(message_id, int):
        return
    message = (
        Message.objects.select_related("conversation__customer", "conversation__workspace", "inbox")
        .filter(workspace_id=event.workspace_id, pk=message_id)
        .first()
    )
    if message is None:
        return
    autoreply.auto_reply_for(
        message=message, conversation_created=bool(event.payload.get("conversation_created"))
    )
