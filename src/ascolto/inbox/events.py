"""Realtime payloads of the inbox. Small, namespaced, published after commit (GUIDE §3).

Contract (tests/inbox/test_events.py pins it):
- inbox.message.created: {conversation_id, message: {id, kind, text, html, author, created_at,
  delivery_status}}
- inbox.conversation.created / inbox.conversation.updated: {conversation: {id, status, priority,
  subject, assignee_id, team_id, customer_id, channel, last_message_at, preview}}
- inbox.message.delivery: {message_id, conversation_id, status}
- inbox.mention.created: {user_id, conversation_id, message_id}
"""

from __future__ import annotations

from typing import Any

from ascolto.core import realtime
from ascolto.inbox.models import Conversation, Message

MESSAGE_CREATED = realtime.define_event("inbox.message.created", conversation_id=int, message=dict)
CONVERSATION_CREATED = realtime.define_event("inbox.conversation.created", conversation=dict)
CONVERSATION_UPDATED = realtime.define_event("inbox.conversation.updated", conversation=dict)
MESSAGE_DELIVERY = realtime.define_event(
    "inbox.message.delivery", message_id=int, conversation_id=int, status=str
)
MENTION_CREATED = realtime.define_event(
    "inbox.mention.created", user_id=int, conversation_id=int, message_id=int
)
CONVERSATION_BOUNCED = realtime.define_event(
    "inbox.conversation.bounced", conversation_id=int, transfer_count=int
)


def message_payload(message: Message) -> dict[str, Any]:
    author = ""
    if message.author_user_id and message.author_user is not None:
        author = message.author_user.get_full_name() or message.author_user.get_username()
    return {
        "id": message.pk,
        "kind": message.kind,
        "text": message.text,
        "html": message.html,
        "author": author,
        "created_at": message.created_at.isoformat(),
        "delivery_status": message.delivery_status,
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "priority": conversation.priority,
        "subject": conversation.subject,
        "assignee_id": conversation.assignee_id,
        "team_id": conversation.team_id,
        "customer_id": conversation.customer_id,
        "channel": conversation.channel,
        "last_message_at": conversation.last_message_at.isoformat(),
        "preview": conversation.last_message_preview,
    }


def publish_message(message: Message, conversation: Conversation) -> None:
    realtime.publish_on_commit(
        workspace_id=conversation.workspace_id,
        event="inbox.message.created",
        payload={"conversation_id": conversation.pk, "message": message_payload(message)},
    )


def publish_conversation(conversation: Conversation, event: str) -> None:
    realtime.publish_on_commit(
        workspace_id=conversation.workspace_id,
        event=event,
        payload={"conversation": conversation_payload(conversation)},
    )
