"""Meta's webhook bodies read into plain events: WhatsApp Cloud (entry[].changes[].value with
messages and statuses) and Messenger / Instagram (entry[].messaging[]). Raise ValidationFailed
naming the path of what is wrong (a 400 for Meta); kinds of items this connector does not use
(echoes of our own replies, postbacks without text, unknown change fields) are skipped.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from ascolto.core.errors import ValidationFailed
from ascolto.inbox.models import Message

OBJECTS = {"whatsapp_business_account": "whatsapp", "page": "messenger", "instagram": "instagram"}
WHATSAPP_STATUS = {
    "sent": Message.Delivery.SENT,
    "delivered": Message.Delivery.DELIVERED,
    "read": Message.Delivery.READ,
    "failed": Message.Delivery.FAILED,
}
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


@dataclass(frozen=True)
class MediaRef:
    kind: str
    media_id: str = ""
    url: str = ""
    mime_type: str = ""
    filename: str = ""
    caption: str = ""


@dataclass
class Inbound:
    provider_id: str
    sender: str  # wa_id (digits of the number), or the page-scoped / Instagram-scoped id
    name: str = ""
    text: str = ""
    timestamp: dt.datetime | None = None
    media: list[MediaRef] = field(default_factory=list)
    location: dict[str, Any] | None = None
    reaction: dict[str, str] | None = None  # {"to": provider id, "emoji": "👍" or ""}
    reply: dict[str, str] | None = None  # a button or list choice: {"id", "title"}


@dataclass(frozen=True)
class Status:
    provider_id: str
    status: str
    error: str = ""


@dataclass(frozen=True)
class Read:
    """Messenger / Instagram: everything sent to `sender` up to `watermark` was read."""

    sender: str
    watermark: dt.datetime


@dataclass
class Batch:
    platform: str
    messages: list[Inbound] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)


def _fail(path: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {problem}", field_errors={path: [problem]})


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "Expected an object.")
    return value


def _optional_obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(path, "Expected a list.")
    return value


def _str(value: Any, path: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(path, "Expected a non-empty string." if required else "Expected a string.")
    return value


def _time(value: Any, path: str, *, millis: bool) -> dt.datetime | None:
    if value is None:
        return None
    try:
        number = float(value) / (1000 if millis else 1)
        if not math.isfinite(number):
            raise ValueError
        return dt.datetime.fromtimestamp(number, tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise _fail(path, "Expected a Unix timestamp.") from None


def parse(body: Any) -> Batch:
    root = _obj(body, "body")
    kind = root.get("object")
    if not isinstance(kind, str) or kind not in OBJECTS:
        raise _fail("object", f"One of: {', '.join(OBJECTS)}.")
    batch = Batch(platform=OBJECTS[kind])
    for i, raw_entry in enumerate(_list(root.get("entry"), "entry")):
        entry = _obj(raw_entry, f"entry[{i}]")
        if batch.platform == "whatsapp":
            for j, raw_change in enumerate(_list(entry.get("changes"), f"entry[{i}].changes")):
                _whatsapp_change(batch, _obj(raw_change, f"entry[{i}].changes[{j}]"), i, j)
        else:
            for j, raw in enumerate(_list(entry.get("messaging"), f"entry[{i}].messaging")):
                _messaging(
                    batch, _obj(raw, f"entry[{i}].messaging[{j}]"), f"entry[{i}].messaging[{j}]"
                )
    return batch


# --- WhatsApp Cloud -------------------------------------------------------------------------


def _whatsapp_change(batch: Batch, change: dict[str, Any], i: int, j: int) -> None:
    if change.get("field", "messages") != "messages":
        return
    base = f"entry[{i}].changes[{j}].value"
    value = _obj(change.get("value"), base)
    names = {}
    for k, raw in enumerate(_list(value.get("contacts"), f"{base}.contacts")):
        contact = _obj(raw, f"{base}.contacts[{k}]")
        profile = _optional_obj(contact.get("profile"))
        names[str(contact.get("wa_id", ""))] = str(profile.get("name", ""))[:200]
    for k, raw in enumerate(_list(value.get("messages"), f"{base}.messages")):
        path = f"{base}.messages[{k}]"
        item = _whatsapp_message(_obj(raw, path), path)
        if item is not None:
            item.name = names.get(item.sender, "")
            batch.messages.append(item)
    for k, raw in enumerate(_list(value.get("statuses"), f"{base}.statuses")):
        path = f"{base}.statuses[{k}]"
        status = _obj(raw, path)
        state = _str(status.get("status"), f"{path}.status")
        if state not in WHATSAPP_STATUS:
            continue  # e.g. "deleted", "warning": nothing to record
        error = ""
        errors = _list(status.get("errors"), f"{path}.errors")
        if state == "failed":
            first = errors[0] if errors and isinstance(errors[0], dict) else {}
            detail = first.get("message") or first.get("title") or "no reason given"
            code = first.get("code")
            error = f"WhatsApp could not deliver the message: {detail}" + (
                f" (code {code})" if code else ""
            )
        batch.statuses.append(
            Status(_str(status.get("id"), f"{path}.id"), WHATSAPP_STATUS[state], error)
        )


def _whatsapp_message(message: dict[str, Any], path: str) -> Inbound | None:
    kind = _str(message.get("type"), f"{path}.type")
    item = Inbound(
        provider_id=_str(message.get("id"), f"{path}.id"),
        sender=_str(message.get("from"), f"{path}.from"),
        timestamp=_time(message.get("timestamp"), f"{path}.timestamp", millis=False),
    )
    content = message.get(kind)
    if kind == "text":
        item.text = _str(_obj(content, f"{path}.text").get("body"), f"{path}.text.body")
    elif kind in MEDIA_TYPES:
        media = _obj(content, f"{path}.{kind}")
        ref = MediaRef(
            kind=kind,
            media_id=_str(media.get("id"), f"{path}.{kind}.id"),
            mime_type=str(media.get("mime_type", ""))[:120],
            filename=str(media.get("filename", ""))[:200],
            caption=str(media.get("caption", "")),
        )
        item.media.append(ref)
        item.text = ref.caption
    elif kind == "location":
        loc = _obj(content, f"{path}.location")
        item.location = {
            "latitude": _coordinate(loc.get("latitude"), f"{path}.location.latitude", 90),
            "longitude": _coordinate(loc.get("longitude"), f"{path}.location.longitude", 180),
            "name": str(loc.get("name", ""))[:300],
            "address": str(loc.get("address", ""))[:300],
        }
    elif kind == "reaction":
        reaction = _obj(content, f"{path}.reaction")
        item.reaction = {
            "to": _str(reaction.get("message_id"), f"{path}.reaction.message_id"),
            "emoji": str(reaction.get("emoji") or ""),
        }
    elif kind == "button":
        button = _obj(content, f"{path}.button")
        title = _str(button.get("text"), f"{path}.button.text")
        item.reply = {"id": str(button.get("payload", "")), "title": title}
        item.text = title
    elif kind == "interactive":
        interactive = _obj(content, f"{path}.interactive")
        sub = str(interactive.get("type", ""))
        if sub not in ("button_reply", "list_reply"):
            raise _fail(f"{path}.interactive.type", "button_reply or list_reply.")
        choice = _obj(interactive.get(sub), f"{path}.interactive.{sub}")
        title = _str(choice.get("title"), f"{path}.interactive.{sub}.title")
        item.reply = {"id": str(choice.get("id", "")), "title": title}
        item.text = title
    else:
        return None  # contacts, orders, system notices: not taken in yet
    return item


def _coordinate(value: Any, path: str, limit: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or abs(number) > limit:
        raise _fail(path, f"A number between -{limit:g} and {limit:g}.")
    return number


# --- Messenger and Instagram ----------------------------------------------------------------


def _messaging(batch: Batch, event: dict[str, Any], path: str) -> None:
    sender = _str(_obj(event.get("sender"), f"{path}.sender").get("id"), f"{path}.sender.id")
    when = _time(event.get("timestamp"), f"{path}.timestamp", millis=True)
    if "message" in event:
        message = _obj(event["message"], f"{path}.message")
        if message.get("is_echo"):
            return  # our own reply, echoed back
        item = Inbound(
            provider_id=_str(message.get("mid"), f"{path}.message.mid"),
            sender=sender,
            text=_str(message.get("text"), f"{path}.message.text", required=False),
            timestamp=when,
        )
        for k, raw in enumerate(_list(message.get("attachments"), f"{path}.message.attachments")):
            attachment = _obj(raw, f"{path}.message.attachments[{k}]")
            payload = _optional_obj(attachment.get("payload"))
            kind = str(attachment.get("type", "file"))
            if kind == "location" and isinstance(payload.get("coordinates"), dict):
                coords = payload["coordinates"]
                item.location = {
                    "latitude": _coordinate(coords.get("lat"), f"{path}.coordinates.lat", 90),
                    "longitude": _coordinate(coords.get("long"), f"{path}.coordinates.long", 180),
                    "name": "",
                    "address": "",
                }
            else:
                item.media.append(MediaRef(kind=kind, url=str(payload.get("url", ""))[:2000]))
        quick = message.get("quick_reply")
        if isinstance(quick, dict):
            item.reply = {"id": str(quick.get("payload", "")), "title": item.text}
        if not item.text and not item.media and item.location is None:
            raise _fail(f"{path}.message", "A message needs text or attachments.")
        batch.messages.append(item)
    elif "reaction" in event:
        reaction = _obj(event["reaction"], f"{path}.reaction")
        target = _str(reaction.get("mid"), f"{path}.reaction.mid")
        removed = reaction.get("action") == "unreact"
        emoji = "" if removed else str(reaction.get("emoji") or reaction.get("reaction") or "")
        stamp = int(when.timestamp() * 1000) if when else 0
        batch.messages.append(
            Inbound(
                provider_id=f"{target}:reaction:{sender}:{stamp}",
                sender=sender,
                timestamp=when,
                reaction={"to": target, "emoji": emoji},
            )
        )
    elif "delivery" in event:
        delivery = _obj(event["delivery"], f"{path}.delivery")
        for k, mid in enumerate(_list(delivery.get("mids"), f"{path}.delivery.mids")):
            batch.statuses.append(
                Status(_str(mid, f"{path}.delivery.mids[{k}]"), Message.Delivery.DELIVERED)
            )
    elif "read" in event:
        read = _obj(event["read"], f"{path}.read")
        watermark = _time(read.get("watermark"), f"{path}.read.watermark", millis=True)
        if watermark is None:
            raise _fail(f"{path}.read.watermark", "Required.")
        batch.reads.append(Read(sender=sender, watermark=watermark))
    elif "postback" in event:
        postback = _obj(event["postback"], f"{path}.postback")
        title = _str(postback.get("title"), f"{path}.postback.title", required=False)
        mid = postback.get("mid")
        if title and isinstance(mid, str) and mid:
            batch.messages.append(
                Inbound(
                    provider_id=mid,
                    sender=sender,
                    text=title,
                    timestamp=when,
                    reply={"id": str(postback.get("payload", "")), "title": title},
                )
            )
