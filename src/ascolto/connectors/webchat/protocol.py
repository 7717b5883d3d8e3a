"""What the server sends to a widget: the schema of every message type, and message payloads.

Every frame sent to a visitor is checked against `SERVER_MESSAGES` (tests pin each type with a
contract test), so a field renamed on the server can never silently break widgets in the wild.
Internal notes have no visitor payload at all: `visitor_message` refuses them.
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.urls import reverse

from ascolto.inbox.models import Attachment, Message

FILE_SALT = "ascolto.webchat.file"
FILE_URL_MAX_AGE = 7 * 24 * 3600

FieldType = type | tuple[type, ...]

MESSAGE_FIELDS: dict[str, FieldType] = {
    "id": int,
    "conversation_id": int,
    "kind": str,  # visitor | agent | bot | system
    "text": str,
    "author": str,
    "created_at": str,
    "client_id": str,
    "attachments": list,
}
ATTACHMENT_FIELDS: dict[str, FieldType] = {
    "name": str,
    "size": int,
    "content_type": str,
    "url": str,
}
# A help center article offered before the first message (pre-chat deflection); the url is a
# path on Ascolto's host, in the visitor's language.
ARTICLE_FIELDS: dict[str, FieldType] = {"title": str, "url": str, "snippet": str}

SERVER_MESSAGES: dict[str, dict[str, FieldType]] = {
    # The answer to hello: a token to keep, whether someone is there, and the history.
    "welcome": {
        "token": str,
        "visitor": dict,
        "online": bool,
        "reply": dict,
        "messages": list,
        "has_more": bool,
    },
    # The answer to sync: what happened after the widget's last seen message id.
    "sync": {"messages": list, "has_more": bool},
    # The visitor's own message, stored (or found stored: a resend is acknowledged the same).
    "ack": {"client_id": str, "message": dict},
    # A message from the agent, the assistant or another tab of the same visitor.
    "message": {"message": dict},
    "typing": {"typing": bool, "author": str},
    # The conversation was resolved or closed; survey_url is where the survey module hands off.
    "ended": {"conversation_id": int, "survey_url": str},
    "email_saved": {"email": str},
    # The answer to suggest: up to 3 articles for the held first message (none: send it now);
    # offer_id is 0 when nothing was offered.
    "suggestions": {"client_id": str, "offer_id": int, "articles": list},
    # "This solved it" was recorded for the offer.
    "deflected": {"offer_id": int},
    "error": {"code": str, "detail": str, "client_id": str},
    "pong": {},
}
VISITOR_KINDS = {
    Message.Kind.INBOUND: "visitor",
    Message.Kind.OUTBOUND: "agent",
    Message.Kind.BOT: "bot",
    Message.Kind.SYSTEM: "system",
}


class ProtocolError(ValueError):
    """A programming error: a frame that breaks the widget protocol."""


def _check(fields: dict[str, FieldType], data: dict[str, Any], what: str) -> None:
    if set(data) != set(fields):
        raise ProtocolError(f"{what} must have the fields {sorted(fields)} (got {sorted(data)}).")
    for name, expected in fields.items():
        value = data[name]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
            raise ProtocolError(f"{what}.{name} must be {expected} (got {value!r}).")


def validate_server_message(frame: dict[str, Any]) -> dict[str, Any]:
    """Raise ProtocolError unless `frame` is a well-formed server message; returns it."""
    kind = frame.get("type")
    schema = SERVER_MESSAGES.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ProtocolError(f"Unknown widget message type {kind!r}.")
    body = {k: v for k, v in frame.items() if k != "type"}
    _check(schema, body, str(kind))
    messages = list(body.get("messages", []))
    if "message" in body:
        messages.append(body["message"])
    for message in messages:
        _check(MESSAGE_FIELDS, message, f"{kind}.message")
        for attachment in message["attachments"]:
            _check(ATTACHMENT_FIELDS, attachment, f"{kind}.message.attachment")
    for article in body.get("articles", []):
        if not isinstance(article, dict):
            raise ProtocolError(f"{kind}.articles must hold objects (got {article!r}).")
        _check(ARTICLE_FIELDS, article, f"{kind}.article")
    return frame


def file_url(attachment: Attachment) -> str:
    token = signing.dumps(attachment.pk, salt=FILE_SALT)
    return reverse("webchat:file", args=[token])


def read_file_token(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=FILE_SALT, max_age=FILE_URL_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def client_id_of(message: Message) -> str:
    """The widget's own id of an inbound message (the last part of its provider id)."""
    if message.kind != Message.Kind.INBOUND or not message.provider_id:
        return ""
    prefix, _, rest = message.provider_id.partition(":")
    return rest.rpartition(":")[2] if prefix == "webchat" else ""


def visitor_message(
    message: Message, *, team_name: str = "", attachments: list[Attachment] | None = None
) -> dict[str, Any]:
    """The visitor's view of a message: no note, no internal fields, the agent by first name.
    `attachments` spares the query when the caller knows them (a text message has none)."""
    kind = VISITOR_KINDS.get(message.kind)  # type: ignore[call-overload]
    if kind is None:
        raise ProtocolError("Internal notes are never sent to visitors.")
    author = ""
    if message.kind == Message.Kind.OUTBOUND:
        user = message.author_user
        author = (user.first_name or user.get_full_name()) if user is not None else ""
        author = author or team_name
    elif message.kind == Message.Kind.BOT:
        author = team_name
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "kind": kind,
        "text": message.text,
        "author": author,
        "created_at": message.created_at.isoformat(),
        "client_id": client_id_of(message),
        "attachments": [
            {
                "name": a.filename,
                "size": a.size,
                "content_type": a.content_type,
                "url": file_url(a),
            }
            for a in (message.attachments.all() if attachments is None else attachments)
            if not a.refused_reason
        ],
    }


def frame(kind: str, **body: Any) -> dict[str, Any]:
    """A server message, validated."""
    return validate_server_message({"type": kind, **body})


def error_frame(code: str, detail: str, client_id: str = "") -> dict[str, Any]:
    return frame("error", code=code, detail=detail, client_id=client_id)
