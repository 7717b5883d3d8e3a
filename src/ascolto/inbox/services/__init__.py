"""Inbox writes. Import from here: `from ascolto.inbox import services`."""

from ascolto.inbox.services.batch import BatchOutcome, InboundText, messages_receive_batch
from ascolto.inbox.services.conversations import (
    conversation_assign,
    conversation_set_priority,
    conversation_set_status,
    conversation_set_tags,
    conversations_assign_locked,
    handling_record,
    inbox_create,
    snoozed_wake_up,
)
from ascolto.inbox.services.messages import (
    IncomingAttachment,
    ReceiveResult,
    conversation_for_contact,
    message_delivery_update,
    message_mark_sent,
    message_receive,
    message_send,
    note_add,
)
from ascolto.inbox.services.search import SEARCH_TEXT_CHUNK, search_text_add

__all__ = [
    "SEARCH_TEXT_CHUNK",
    "BatchOutcome",
    "InboundText",
    "IncomingAttachment",
    "ReceiveResult",
    "conversation_assign",
    "conversation_for_contact",
    "conversation_set_priority",
    "conversation_set_status",
    "conversation_set_tags",
    "conversations_assign_locked",
    "handling_record",
    "inbox_create",
    "message_delivery_update",
    "message_mark_sent",
    "message_receive",
    "message_send",
    "messages_receive_batch",
    "note_add",
    "search_text_add",
    "snoozed_wake_up",
]
