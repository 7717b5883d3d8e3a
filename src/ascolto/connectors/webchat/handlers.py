"""Outbox handlers of the web chat connector (GUIDE §3: idempotent, at least once).

- inbox.message.sent: "send" a reply on the web chat channel — push it to the visitor's open
  widgets and record it as sent. A visitor who is away sees it in their history on return.
- inbox.conversation.resolved / .closed: tell the widgets the chat ended; this is where the
  survey module hands off (`set_survey_link`).
"""

from __future__ import annotations

from collections.abc import Callable

from ascolto.connectors.webchat import services
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.inbox.models import Channel, Conversation, Message

SurveyLink = Callable[[Conversation], str]
_survey_link: SurveyLink | None = None


def set_survey_link(provider: SurveyLink | None) -> None:
    """Let the survey module put a survey at the end of a chat: `provider(conversation)` returns
    the survey's URL for that conversation, or "" for none."""
    global _survey_link
    _survey_link = provider


@handles("inbox.message.sent")
def deliver_reply(event: OutboxEvent) -> None:
    if event.payload.get("channel") != Channel.WEBCHAT:
        return
    message = (
        Message.objects.select_related("conversation__inbox", "author_user")
        .filter(workspace_id=event.workspace_id, pk=event.payload.get("message_id"))
        .first()
    )
    if message is not None:
        services.reply_sent(message=message)


@handles("inbox.conversation.resolved", "inbox.conversation.closed")
def end_chat(event: OutboxEvent) -> None:
    conversation = (
        Conversation.objects.select_related("inbox")
        .filter(workspace_id=event.workspace_id, pk=event.payload.get("conversation_id"))
        .first()
    )
    if conversation is None or conversation.channel != Channel.WEBCHAT:
        return
    survey_url = _survey_link(conversation) if _survey_link is not None else ""
    services.chat_ended(conversation=conversation, survey_url=survey_url)
