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


@outbox.handles_many("inbox.message.received")
def on_message_received(events: list[OutboxEvent]) -> None:
    """Triage, then the bot, for each customer message of the batch (one query reads them)."""
    wanted = {(event.workspace_id, event.payload.get("message_id")) for event in events}
    messages = (
        Message.objects.select_related("conversation__workspace")
        .filter(pk__in=[pk for _, pk in wanted if isinstance(pk, int)], kind=Message.Kind.INBOUND)
        .order_by("pk")
    )
    for message in messages:
        if (message.workspace_id, message.pk) not in wanted:
            continue  # an id of another workspace
        if not message.text.strip() or inbound.is_not_a_request(message):
            continue
        triage = services.triage_message(message=message)
        services.bot_handle_message(message=message, triage=triage)
