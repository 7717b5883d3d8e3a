"""Request and response shapes of the inbox API.

String limits match the model columns and the services' limits, so input that would not fit
is refused with a 422 naming the field. Choice types mirror the model choices (a test keeps
them in step).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from ascolto.core.api import Id, Timestamp, no_nul
from ascolto.core.schemas import InSchema
from ascolto.inbox.models import Conversation, Message

# --- Field types ----------------------------------------------------------------------------

ChannelChoice = Literal[
    "webchat", "email", "sms", "whatsapp", "messenger", "instagram", "voice", "api"
]
RoutingChoice = Literal["manual", "round_robin", "least_loaded"]
StatusChoice = Literal["open", "pending", "snoozed", "resolved", "closed"]
# Filters also take "active" (open, pending or snoozed) and "any".
StatusFilter = Literal["open", "pending", "snoozed", "resolved", "closed", "active", "any"]
ViewChoice = Literal["mine", "unassigned", "my_teams", "all", "sla_due", "high_value", "mentions"]
PriorityName = Literal["low", "normal", "high", "urgent"]

PRIORITY_VALUES: dict[str, int] = {
    "low": Conversation.Priority.LOW,
    "normal": Conversation.Priority.NORMAL,
    "high": Conversation.Priority.HIGH,
    "urgent": Conversation.Priority.URGENT,
}
PRIORITY_NAMES: dict[int, str] = {value: name for name, value in PRIORITY_VALUES.items()}

MAX_TEXT = 100_000
MAX_ATTACHMENTS = 10

InboxName = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_nul)]
Reason = Annotated[str, Field(max_length=300), AfterValidator(no_nul)]
TagName = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(no_nul)]
Language = Annotated[str, Field(max_length=8), AfterValidator(no_nul)]
MessageText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(no_nul)]
MessageHtml = Annotated[str, Field(max_length=4 * MAX_TEXT), AfterValidator(no_nul)]


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


# --- References ---------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class TeamRef(Schema):
    id: int
    name: str


class InboxRef(Schema):
    id: int
    name: str
    channel: str


# --- Inboxes ------------------------------------------------------------------------------


class InboxIn(InSchema):
    name: InboxName
    channel: ChannelChoice
    team_id: Id | None = None
    routing: RoutingChoice = "least_loaded"
    reopen_window_hours: int = Field(
        default=72, ge=0, le=24 * 365, description="A customer reply within it reopens."
    )


class InboxOut(Schema):
    id: int
    name: str
    channel: str
    team_id: int | None
    routing: str
    reopen_window_hours: int
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


# --- Conversations ------------------------------------------------------------------------


class CustomerSummaryOut(Schema):
    id: int
    name: str
    value_tier: str


class IdentitySummaryOut(Schema):
    kind: str
    value: str


class CustomerPanelOut(CustomerSummaryOut):
    """What the agent sees of the customer beside the thread."""

    locale: str
    timezone: str
    lifetime_spend: Decimal = Field(description="In the workspace's default currency.")
    orders_count: int
    last_order_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    identities: list[IdentitySummaryOut]

    @staticmethod
    def resolve_identities(obj: Any) -> list[Any]:
        return list(obj.identities.all())

    @staticmethod
    def resolve_lifetime_spend(obj: Any) -> Decimal:
        return Decimal(obj.lifetime_spend).quantize(Decimal("0.01"))


class ConversationOut(Schema):
    id: int
    status: str
    priority: PriorityName
    subject: str
    language: str
    channel: str
    inbox: InboxRef
    customer: CustomerSummaryOut
    assignee: UserRef | None
    team: TeamRef | None
    tags: list[str]
    message_count: int
    preview: str = Field(description="The start of the last message.")
    last_message_at: dt.datetime
    waiting_since: dt.datetime | None = Field(description="Since when the customer waits.")
    snoozed_until: dt.datetime | None
    first_response_due_at: dt.datetime | None
    next_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_priority(obj: Conversation) -> str:
        return PRIORITY_NAMES.get(obj.priority, "normal")

    @staticmethod
    def resolve_tags(obj: Conversation) -> list[str]:
        # Served from the prefetch cache (api_support.with_tags).
        return sorted(tag.name for tag in obj.tags.all())

    @staticmethod
    def resolve_preview(obj: Conversation) -> str:
        return obj.last_message_preview


class ConversationDetailOut(ConversationOut):
    customer: CustomerPanelOut
    first_customer_message_at: dt.datetime | None
    first_response_at: dt.datetime | None
    last_customer_message_at: dt.datetime | None
    last_agent_message_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    reopen_count: int
    transfer_count: int
    previous_id: int | None
    merged_into_id: int | None
    updated_at: dt.datetime


class EventOut(Schema):
    """A status change, assignment, transfer, priority or tag change."""

    id: int
    kind: str
    actor: UserRef | None
    from_value: str
    to_value: str
    reason: str
    data: dict[str, Any]
    created_at: dt.datetime


class StatusIn(InSchema):
    """`open` reopens a resolved or closed conversation; `snoozed` needs `snoozed_until`."""

    status: StatusChoice
    snoozed_until: Timestamp | None = None
    reason: Reason = ""


class AssignIn(InSchema):
    assignee_id: Id | None = Field(
        description="The agent to assign; null unassigns. Another agent than the current "
        "one is a transfer, counted with its reason."
    )
    team_id: Id | None = Field(default=None, description="Also move to this team; null keeps it.")
    reason: Reason = ""


class PriorityIn(InSchema):
    priority: PriorityName
    reason: Reason = ""


class TagsIn(InSchema):
    tags: list[TagName] = Field(max_length=50, description="Replaces the conversation's tags.")


class TagsOut(Schema):
    tags: list[str]


class HandlingIn(InSchema):
    """A span the agent had the conversation in front of them or was composing."""

    started_at: Timestamp
    ended_at: Timestamp


class HandlingOut(Schema):
    recorded: bool = Field(description="False for spans under a second or over 4 hours.")
    id: int | None
    seconds: float


# --- Messages -----------------------------------------------------------------------------


class AttachmentIn(InSchema):
    filename: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(no_nul)]
    content_type: Annotated[str, Field(min_length=1, max_length=120), AfterValidator(no_nul)] = (
        "application/octet-stream"
    )
    content_base64: Base64Content = Field(description="The file, base64-encoded.")


class ReplyIn(InSchema):
    """A reply to the customer: text, HTML (sanitised; scripts and handlers are removed) or
    both, and files."""

    text: MessageText = ""
    html: MessageHtml = ""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class NoteIn(InSchema):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(no_nul)] = Field(
        description="@username mentions notify those members."
    )


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    refused_reason: str = Field(description="Why the file was not stored; empty when stored.")


class MessageOut(Schema):
    id: int
    conversation_id: int
    kind: str
    text: str
    html: str = Field(description="Sanitised HTML.")
    author_user: UserRef | None
    author_customer_id: int | None
    provider_id: str | None
    delivery_status: str
    delivery_error: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]
    mentions: list[UserRef]

    @staticmethod
    def resolve_attachments(obj: Message) -> list[Any]:
        return list(obj.attachments.all())

    @staticmethod
    def resolve_mentions(obj: Message) -> list[Any]:
        return list(obj.mentions.all())


class MessagesOut(Schema):
    items: list[MessageOut]
    last_id: int | None = Field(
        description="The highest message id in `items`; pass it as `after` to resync."
    )
    has_more: bool = Field(description="More messages follow `last_id`.")
