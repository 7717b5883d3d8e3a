"""Outbox handlers: triage and the bot follow every inbound message.

Idempotent: a message's triage is stored once (MessageTriage is one-to-one), and the bot
remembers the last message it handled per conversation.
"""

from __future__ import annotations

from ascolto.assistant import selectors, services
from ascolto.assistant.models import AssistantSettings
from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.inbox import inbound
from ascolto.inbox.models import Message

# What triage and the bot read of a message (the bot loads its conversation itself): the whole
# message, conversation and workspace rows cost more to load than the query.
TRIAGE_FIELDS = (
    "workspace_id",
    "kind",
    "text",
    "metadata",
    "conversation",
    "conversation__channel",
    "conversation__workspace",
    "conversation__workspace__default_locale",
)


@outbox.handles_many("inbox.message.received")
def on_message_received(events: list[OutboxEvent]) -> None:
    """Triage every customer message of the batch (together: one query reads them, one insert
    stores their triage), then the bot's turn for those of a workspace and channel where the
    assistant is on."""
    wanted = {(event.workspace_id, event.payload.get("message_id")) for event in events}
    messages = [
        message
        for message in Message.objects.select_related("conversation__workspace")
        .filter(pk__in=[pk for _, pk in wanted if isinstance(pk, int)], kind=Message.Kind.INBOUND)
        .only(*TRIAGE_FIELDS)
        .order_by("pk")
        # Not an id of another workspace, and a request (inbound.py) with text to read.
        if (message.workspace_id, message.pk) in wanted
        and message.text.strip()
        and not inbound.is_not_a_request(message)
    ]
    triages = services.triage_messages(messages=messages)
    configs: dict[int, AssistantSettings] = {}
    for message in messages:
        workspace = message.conversation.workspace
        if workspace.pk not in configs:
            configs[workspace.pk] = selectors.assistant_settings(workspace=workspace)
        config = configs[workspace.pk]
        if config.enabled and message.conversation.channel in (config.channels or []):
            services.bot_handle_message(message=message, triage=triages[message.pk])
