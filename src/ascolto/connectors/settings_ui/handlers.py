"""Outbox handler: the inbox's automatic replies follow every inbound message, whatever the
connector (idempotent: see autoreply.py)."""

from __future__ import annotations

from django.db.models import OuterRef

from ascolto.connectors.settings_ui import autoreply
from ascolto.connectors.settings_ui.models import AutoReplySettings
from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.inbox.models import Message


@outbox.handles_many("inbox.message.received")
def auto_reply(events: list[OutboxEvent]) -> None:
    """Only inboxes with automatic replies set up get past the first query (one per batch)."""
    wanted = {
        (event.workspace_id, event.payload.get("message_id")): event.payload for event in events
    }
    ids = [pk for _, pk in wanted if isinstance(pk, int)]
    messages = (
        Message.objects.select_related("conversation__customer", "conversation__workspace", "inbox")
        .filter(
            pk__in=ids,
            inbox_id__in=AutoReplySettings.objects.filter(
                workspace_id=OuterRef("workspace_id")
            ).values("inbox_id"),
        )
        .order_by("pk")
    )
    for message in messages:
        payload = wanted.get((message.workspace_id, message.pk))
        if payload is None:
            continue  # an id of another workspace
        autoreply.auto_reply_for(
            message=message, conversation_created=bool(payload.get("conversation_created"))
        )
