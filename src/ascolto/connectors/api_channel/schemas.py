"""Request and response shapes of the API channel's operations."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SkipValidation,
    WithJsonSchema,
)

from ascolto.core.api import Id, JsonObject, Timestamp, no_nul
from ascolto.core.schemas import InSchema

BULK_LIMIT = 500
MAX_ATTACHMENTS = 10
MAX_TEXT = 100_000

IdentityKind = Literal["email", "phone", "whatsapp", "messenger", "instagram", "web", "external"]
DeliveryStatus = Literal["sent", "delivered", "read", "failed"]
RoutingChoice = Literal["manual", "round_robin", "least_loaded"]


def _strict_base64(value: Any) -> bytes:
    # Lenient decoding would drop stray characters and store a different file than was sent.
    if not isinstance(value, str):
        raise ValueError("Expected a base64-encoded string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("Not valid base64 (standard alphabet, with padding).") from None


Base64Content = Annotated[
    bytes,
    BeforeValidator(_strict_base64),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
ProviderId = Annotated[
    str,
    Field(min_length=1, max_length=255, examples=["shop-msg-81723"]),
    AfterValidator(no_nul),
]
Handle = Annotated[str, Field(min_length=1, max_length=254), AfterValidator(no_nul)]
PersonName = Annotated[str, Field(max_length=200), AfterValidator(no_nul)]
FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_nul)]
ContentType = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_nul)]
MessageText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(no_nul)]
MessageHtml = Annotated[str, Field(max_length=4 * MAX_TEXT), AfterValidator(no_nul)]
Subject = Annotated[str, Field(max_length=300), AfterValidator(no_nul)]
ErrorText = Annotated[str, Field(max_length=2000), AfterValidator(no_nul)]
InboxName = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_nul)]
WebhookUrl = Annotated[
    str,
    Field(max_length=2000, examples=["https://shop.example.com/hooks/ascolto"]),
    AfterValidator(no_nul),
]


# --- Inbound messages -----------------------------------------------------------------------


class CustomerIdentityIn(InSchema):
    """Who wrote: the handle the system knows the customer by. An unknown handle creates the
    customer (with `name`); a known one finds them."""

    kind: IdentityKind
    value: Handle = Field(examples=["dana@example.com"])
    name: PersonName = ""


class AttachmentIn(InSchema):
    filename: FileName
    content_type: ContentType = "application/octet-stream"
    content_base64: Base64Content = Field(
        description="The file, base64-encoded. Over the workspace's size limit, or of a "
        "blocked type, it is recorded as refused (see `refused_attachments`)."
    )


class IngestIn(InSchema):
    provider_id: ProviderId = Field(
        description="The system's id of this message. Sending it again is a no-op that "
        "returns the stored message (200)."
    )
    customer: CustomerIdentityIn
    text: MessageText = ""
    html: MessageHtml = Field(
        default="", description="Sanitised before it is stored: scripts and handlers go."
    )
    subject: Subject = ""
    occurred_at: Timestamp | None = Field(
        default=None, description="When the customer wrote; defaults to now."
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    metadata: JsonObject = Field(default_factory=dict)


class IngestOut(Schema):
    message_id: int
    conversation_id: int | None = Field(
        description="Null while an accepted message waits to be threaded (a few seconds at "
        "most); the message id is final."
    )
    customer_id: int | None
    duplicate: bool = Field(description="True when this provider id was stored before.")
    conversation_created: bool
    refused_attachments: list[str]


# Items are validated one by one (a bad item is reported, the others are stored).
class BulkIngestIn(InSchema):
    items: Annotated[list[SkipValidation[IngestIn]], Field(max_length=BULK_LIMIT)]


class BulkItemOut(Schema):
    index: int = Field(description="Position of the item in `items`, from 0.")
    status: Literal["created", "duplicate", "error"]
    message_id: int | None
    conversation_id: int | None
    detail: str
    errors: dict[str, list[str]]


class BulkIngestOut(Schema):
    created: int
    duplicates: int
    errors: int
    results: list[BulkItemOut] = Field(description="One per item, in request order.")


# --- Delivery callbacks ---------------------------------------------------------------------


class DeliveryIn(InSchema):
    provider_id: ProviderId = Field(
        description="The reply's provider id: `delivery_id` of the webhook request."
    )
    status: DeliveryStatus
    error: ErrorText = ""


class DeliveryOut(Schema):
    message_id: int
    conversation_id: int
    delivery_status: str
    delivery_error: str


# --- Set-up (admins) ------------------------------------------------------------------------


class ApiInboxIn(InSchema):
    name: InboxName
    webhook_url: WebhookUrl = Field(default="", description="Where replies are POSTed.")
    team_id: Id | None = None
    routing: RoutingChoice = "least_loaded"
    reopen_window_hours: int = Field(default=72, ge=0, le=24 * 365)


class WebhookIn(InSchema):
    webhook_url: WebhookUrl | None = Field(
        default=None, description='New URL; "" removes it; left out, it is kept.'
    )
    rotate_secret: bool = Field(default=False, description="Generate a new signing secret.")


class WebhookOut(Schema):
    inbox_id: int
    webhook_url: str
    webhook_secret: str | None = Field(
        description="The signing secret, only when it was just generated: keep it now."
    )


class ApiInboxOut(WebhookOut):
    name: str
    channel: str
    team_id: int | None
    routing: str
    reopen_window_hours: int
    is_active: bool
    created_at: dt.datetime
