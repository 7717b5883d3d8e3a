"""Twilio's webhook forms read into plain values. Raise ValidationFailed (a 400 for Twilio)
naming the field when a form is not what Twilio sends."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ascolto.core.errors import ValidationFailed
from ascolto.inbox.models import Message

MAX_MEDIA = 20

# Twilio's MessageStatus -> our delivery state. "accepted", "queued", "sending", "scheduled"
# say nothing beyond what the reply already records (queued or sent).
STATUS_MAP: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": Message.Delivery.SENT,
    "delivered": Message.Delivery.DELIVERED,
    "read": Message.Delivery.READ,
    "failed": Message.Delivery.FAILED,
    "undelivered": Message.Delivery.FAILED,
    "canceled": Message.Delivery.FAILED,
}


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    address: str = ""
    label: str = ""


@dataclass
class Inbound:
    message_sid: str
    sender: str  # "+E.164" or "whatsapp:+E.164" as Twilio sends it
    body: str
    profile_name: str = ""
    media: list[Media] = field(default_factory=list)
    location: Location | None = None

    @property
    def is_whatsapp(self) -> bool:
        return self.sender.startswith("whatsapp:")


@dataclass(frozen=True)
class StatusUpdate:
    message_sid: str
    status: str | None  # our delivery state, None when nothing changes
    error: str = ""


def _required(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise ValidationFailed(
            f"The Twilio request has no {name}.", field_errors={name: ["Required."]}
        )
    return value


def _coordinate(form: Mapping[str, str], name: str, limit: float) -> float:
    raw = form.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise ValidationFailed(
            f"{name} is not a coordinate: {raw[:40]!r}.",
            field_errors={name: [f"A number between -{limit:g} and {limit:g}."]},
        )
    return value


def inbound(form: Mapping[str, str]) -> Inbound:
    sid = _required(form, "MessageSid")
    sender = _required(form, "From")
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise ValidationFailed(
            "NumMedia is not a number.", field_errors={"NumMedia": ["A whole number."]}
        ) from None
    if not 0 <= count <= MAX_MEDIA:
        raise ValidationFailed(
            f"NumMedia must be between 0 and {MAX_MEDIA}.",
            field_errors={"NumMedia": [f"Between 0 and {MAX_MEDIA}."]},
        )
    media = []
    for index in range(count):
        url = _required(form, f"MediaUrl{index}")
        if not url.startswith("https://") and not url.startswith("http://"):
            raise ValidationFailed(
                f"MediaUrl{index} is not a URL.", field_errors={f"MediaUrl{index}": ["A URL."]}
            )
        content_type = (form.get(f"MediaContentType{index}") or "application/octet-stream")[:120]
        media.append(Media(url=url, content_type=content_type))
    location = None
    if form.get("Latitude") or form.get("Longitude"):
        location = Location(
            latitude=_coordinate(form, "Latitude", 90),
            longitude=_coordinate(form, "Longitude", 180),
            address=(form.get("Address") or "")[:300],
            label=(form.get("Label") or "")[:300],
        )
    body = form.get("Body") or ""
    if not body.strip() and not media and location is None:
        raise ValidationFailed(
            "The Twilio message has no Body, media or location.",
            field_errors={"Body": ["Required when there is no media or location."]},
        )
    return Inbound(
        message_sid=sid,
        sender=sender,
        body=body,
        profile_name=(form.get("ProfileName") or "")[:200],
        media=media,
        location=location,
    )


def status_update(form: Mapping[str, str]) -> StatusUpdate:
    sid = _required(form, "MessageSid")
    raw = _required(form, "MessageStatus").lower()
    if raw not in STATUS_MAP:
        raise ValidationFailed(
            f"Unknown MessageStatus {raw[:40]!r}.",
            field_errors={"MessageStatus": [f"One of: {', '.join(STATUS_MAP)}."]},
        )
    status = STATUS_MAP[raw]
    error = ""
    if status == Message.Delivery.FAILED:
        code = form.get("ErrorCode") or ""
        text = form.get("ErrorMessage") or ""
        error = f"Twilio reports the message {raw}" + (f" (error {code})" if code else "")
        error += f": {text}" if text else "."
    return StatusUpdate(message_sid=sid, status=status, error=error)
