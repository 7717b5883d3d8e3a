"""The message write path: inbound from any channel, agent replies, notes, delivery updates.

Every connector (web chat, email, SMS, WhatsApp, Messenger, voice, API) calls these same
functions. Idempotency: an inbound message with a provider id is stored once per inbox; a retried
delivery returns the stored message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ascolto.accounts.models import Membership, User
from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.sanitize import html_to_text, sanitize_html
from ascolto.customers.models import Activity, Customer
from ascolto.customers.services import activity_record
from ascolto.inbox import events, inbound
from ascolto.inbox.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    Inbox,
    Mention,
    Message,
)
from ascolto.inbox.services.search import search_text_add

MAX_TEXT = 100_000
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{2,150})")


@dataclass
class IncomingAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ReceiveResult:
    message: Message
    conversation: Conversation
    conversation_created: bool = False
    duplicate: bool = False
    reopened: bool = False
    refused_attachments: list[str] = field(default_factory=list)


def _limits() -> tuple[int, set[str]]:
    max_bytes = int(getattr(settings, "ASCOLTO_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024))
    blocked = set(getattr(settings, "ASCOLTO_ATTACHMENT_BLOCKED_TYPES", BLOCKED_TYPES))
    return max_bytes, blocked


BLOCKED_TYPES = {
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-sh",
    "application/x-executable",
    "application/java-archive",
    "application/x-bat",
}


def _store_attachments(message: Message, attachments: list[IncomingAttachment]) -> list[str]:
    """Store files within limits; record refused ones with their reason instead of dropping."""
    max_bytes, blocked = _limits()
    refused: list[str] = []
    for item in attachments:
        name = (item.filename or "attachment").replace("/", "_").replace("\\", "_")[:200]
        reason = ""
        if len(item.content) > max_bytes:
            reason = f"larger than {max_bytes // (1024 * 1024)} MB"
        elif item.content_type.lower() in blocked or name.lower().endswith(
            (".exe", ".bat", ".scr")
        ):
            reason = "file type not allowed"
        attachment = Attachment(
            workspace_id=message.workspace_id,
            message=message,
            filename=name,
            content_type=item.content_type[:120] or "application/octet-stream",
            size=len(item.content),
            refused_reason=reason,
        )
        if not reason:
            attachment.file.save(name, ContentFile(item.content), save=False)
        else:
            refused.append(f"{name}: {reason}")
        attachment.save()
    return refused


def _clean_content(text: str, html: str) -> tuple[str, str]:
    clean_html = sanitize_html(html) if html else ""
    plain = text or (html_to_text(clean_html) if clean_html else "")
    if len(plain) > MAX_TEXT:
        raise ValidationFailed(
            f"A message is at most {MAX_TEXT} characters.",
            field_errors={"text": [f"At most {MAX_TEXT} characters."]},
        )
    return plain, clean_html


def _conversation_for_inbound(
    *,
    inbox: Inbox,
    customer: Customer,
    when: dt.datetime,
    subject: str,
    new_thread: bool,
    quiet: bool = False,
) -> tuple[Conversation, bool, bool]:
    """Pick the conversation an inbound message belongs to: (conversation, created, reopened).

    The customer's latest conversation in the inbox continues while active; a resolved or closed
    one reopens within the inbox's reopen window; after it, a new conversation links the old one.
    A `quiet` message (not a request: inbound.py) joins the latest conversation as it is.
    """
    latest = (
        Conversation.objects.select_for_update()
        .filter(inbox=inbox, customer=customer, merged_into__isnull=True)
        .order_by("-last_message_at", "-id")
        .first()
    )
    if latest is not None and not new_thread:
        if latest.is_active or quiet:
            return latest, False, False
        window = dt.timedelta(hours=inbox.reopen_window_hours)
        closed_at = latest.resolved_at or latest.closed_at or latest.last_message_at
        if latest.status == Conversation.Status.RESOLVED and when - closed_at <= window:
            return latest, False, True
    conversation = Conversation.objects.create(
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        channel=inbox.channel,
        customer=customer,
        subject=subject[:300],
        language=customer.locale,
        team=inbox.team,
        previous=latest if latest is not None and not latest.is_active else None,
        last_message_at=when,
    )
    ConversationEvent.objects.create(
        workspace_id=inbox.workspace_id,
        conversation=conversation,
        kind=ConversationEvent.Kind.CREATED,
        to_value=Conversation.Status.OPEN,
    )
    return conversation, True, False


def conversation_for_contact(
    *, inbox: Inbox, customer: Customer, subject: str, when: dt.datetime | None = None
) -> tuple[Conversation, bool]:
    """The customer's active conversation in the inbox, or a new one: for a contact that is not a
    customer's written message (a logged phone call). Returns (conversation, created)."""
    if customer.workspace_id != inbox.workspace_id:
        raise ValidationFailed("The customer belongs to another workspace.")
    when = when or timezone.now()
    with transaction.atomic():
        latest = (
            Conversation.objects.select_for_update()
            .filter(inbox=inbox, customer=customer, merged_into__isnull=True)
            .order_by("-last_message_at", "-id")
            .first()
        )
        if latest is not None and latest.is_active:
            return latest, False
        conversation, _, _ = _conversation_for_inbound(
            inbox=inbox, customer=customer, when=when, subject=subject, new_thread=True
        )
        activity_record(
            customer=customer,
            kind=Activity.Kind.CONVERSATION,
            title=f"Conversation started: {conversation.subject}",
            data={"conversation_id": conversation.pk, "channel": inbox.channel},
            occurred_at=when,
            source_type="conversation",
            source_id=str(conversation.pk),
        )
        events.publish_conversation(conversation, "inbox.conversation.created")
    return conversation, True


def message_receive(
    *,
    inbox: Inbox,
    customer: Customer,
    text: str = "",
    html: str = "",
    provider_id: str | None = None,
    subject: str = "",
    occurred_at: dt.datetime | None = None,
    conversation: Conversation | None = None,
    new_thread: bool = False,
    attachments: list[IncomingAttachment] | None = None,
    metadata: dict[str, object] | None = None,
    message_id: int | None = None,
) -> ReceiveResult:
    """Store a customer's message and thread it. Idempotent by (inbox, provider_id).

    `message_id`: the id to store the message under, reserved from the messages' sequence by
    an intake that acknowledged it before storing it (connectors/api_channel/intake.py).

    `conversation` lets a connector that threads by itself (email headers) name the target;
    `new_thread` starts a new conversation even if one is active (a new email subject).
    """
    if customer.workspace_id != inbox.workspace_id:
        raise ValidationFailed("The customer belongs to another workspace.")
    plain, clean_html = _clean_content(text, html)
    if not plain and not attachments:
        raise ValidationFailed(
            "A message needs text or an attachment.", field_errors={"text": ["Required."]}
        )
    if provider_id:
        existing = Message.objects.filter(inbox=inbox, provider_id=provider_id).first()
        if existing is not None:
            return ReceiveResult(existing, existing.conversation, duplicate=True)
    when = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            return _receive(
                inbox=inbox,
                customer=customer,
                plain=plain,
                clean_html=clean_html,
                provider_id=provider_id or None,
                subject=subject,
                when=when,
                conversation=conversation,
                new_thread=new_thread,
                attachments=attachments or [],
                metadata=metadata or {},
                message_id=message_id,
            )
    except IntegrityError:
        # A concurrent delivery of the same provider message won the race.
        existing = Message.objects.filter(inbox=inbox, provider_id=provider_id).first()
        if existing is None:
            raise
        return ReceiveResult(existing, existing.conversation, duplicate=True)


def _receive(
    *,
    inbox: Inbox,
    customer: Customer,
    plain: str,
    clean_html: str,
    provider_id: str | None,
    subject: str,
    when: dt.datetime,
    conversation: Conversation | None,
    new_thread: bool,
    attachments: list[IncomingAttachment],
    metadata: dict[str, object],
    message_id: int | None = None,
) -> ReceiveResult:
    created = reopened = False
    metadata = {**inbound.classify(inbox, customer, plain, when), **metadata}
    quiet = bool(metadata.get(inbound.NOT_A_REQUEST))
    if conversation is not None:
        if conversation.inbox_id != inbox.pk:
            raise ValidationFailed("The conversation belongs to another inbox.")
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        reopened = not conversation.is_active and not quiet
    else:
        conversation, created, reopened = _conversation_for_inbound(
            inbox=inbox,
            customer=customer,
            when=when,
            subject=subject or plain[:80],
            new_thread=new_thread,
            quiet=quiet,
        )
    message = Message.objects.create(
        pk=message_id,
        workspace_id=inbox.workspace_id,
        conversation=conversation,
        inbox=inbox,
        kind=Message.Kind.INBOUND,
        author_customer=customer,
        text=plain,
        html=clean_html,
        provider_id=provider_id,
        delivery_status=Message.Delivery.RECEIVED,
        metadata=metadata,
        created_at=when,
    )
    search_text_add(message=message)
    refused = _store_attachments(message, attachments) if attachments else []

    previous_status = conversation.status
    if reopened:
        conversation.reopen_count += 1
        conversation.resolved_at = None
        conversation.closed_at = None
        ConversationEvent.objects.create(
            workspace_id=inbox.workspace_id,
            conversation=conversation,
            kind=ConversationEvent.Kind.REOPENED,
            from_value=previous_status,
            to_value=Conversation.Status.OPEN,
            reason="customer replied",
        )
    elif not quiet and previous_status in (
        Conversation.Status.PENDING,
        Conversation.Status.SNOOZED,
    ):
        ConversationEvent.objects.create(
            workspace_id=inbox.workspace_id,
            conversation=conversation,
            kind=ConversationEvent.Kind.STATUS,
            from_value=previous_status,
            to_value=Conversation.Status.OPEN,
            reason="customer replied",
        )
    if not quiet:
        conversation.status = Conversation.Status.OPEN
        conversation.snoozed_until = None
        conversation.first_customer_message_at = conversation.first_customer_message_at or when
        conversation.last_customer_message_at = when
        conversation.waiting_since = conversation.waiting_since or when
    conversation.last_message_at = max(conversation.last_message_at, when)
    conversation.last_message_preview = (plain or (refused[0] if refused else ""))[:200]
    conversation.message_count += 1
    conversation.save()

    if created or reopened:
        activity_record(
            customer=customer,
            kind=Activity.Kind.CONVERSATION,
            title=(
                f"Conversation started: {conversation.subject}"
                if created
                else f"Conversation reopened: {conversation.subject}"
            ),
            body=plain[:500],
            data={"conversation_id": conversation.pk, "channel": inbox.channel},
            occurred_at=when,
            source_type="conversation",
            source_id=str(conversation.pk),
        )
    # Registered before the outbox event: after commit, the agents' push leaves first instead of
    # waiting behind the event's hand-over to the job queue.
    events.publish_message(message, conversation)
    if created or reopened:
        events.publish_conversation(
            conversation, "inbox.conversation.created" if created else "inbox.conversation.updated"
        )
    outbox.emit(
        workspace=inbox.workspace,
        name="inbox.message.received",
        payload={
            "message_id": message.pk,
            "conversation_id": conversation.pk,
            "conversation_created": created,
            "reopened": reopened,
            inbound.NOT_A_REQUEST: quiet,
        },
    )
    return ReceiveResult(message, conversation, created, False, reopened, refused)


def _ensure_agent(conversation: Conversation, author: User) -> None:
    if not Membership.objects.filter(workspace_id=conversation.workspace_id, user=author).exists():
        raise ValidationFailed("Only members of the workspace can write in its conversations.")


def message_send(
    *,
    conversation: Conversation,
    author: User,
    actor: Actor,
    text: str = "",
    html: str = "",
    attachments: list[IncomingAttachment] | None = None,
    kind: str = Message.Kind.OUTBOUND,
) -> Message:
    """An agent's (or the assistant's) reply to the customer. Queued for the channel's connector,
    which sends it after commit and reports delivery through `message_delivery_update`."""
    if kind not in (Message.Kind.OUTBOUND, Message.Kind.BOT):
        raise ValidationFailed("Replies are outbound or bot messages.")
    if kind == Message.Kind.OUTBOUND:
        _ensure_agent(conversation, author)
    plain, clean_html = _clean_content(text, html)
    if not plain and not attachments:
        raise ValidationFailed(
            "A reply needs text or an attachment.", field_errors={"text": ["Required."]}
        )
    conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
    now = timezone.now()
    message = Message.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        kind=kind,
        author_user=author if kind == Message.Kind.OUTBOUND else None,
        text=plain,
        html=clean_html,
        delivery_status=Message.Delivery.QUEUED,
        created_at=now,
    )
    search_text_add(message=message)
    refused = _store_attachments(message, attachments) if attachments else []
    if refused:
        raise ValidationFailed(
            "Some attachments were refused: " + "; ".join(refused),
            field_errors={"attachments": refused},
        )
    if kind == Message.Kind.OUTBOUND:
        if conversation.first_response_at is None and conversation.first_customer_message_at:
            conversation.first_response_at = now
        conversation.last_agent_message_at = now
        conversation.waiting_since = None
        if conversation.assignee_id is None:
            conversation.assignee = author
            ConversationEvent.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                kind=ConversationEvent.Kind.ASSIGNED,
                actor=author,
                to_value=str(author.pk),
                reason="replied",
            )
    if kind == Message.Kind.OUTBOUND:
        conversation.has_agent_reply = True
    else:
        conversation.has_bot_message = True
    conversation.last_message_at = now
    conversation.last_message_preview = plain[:200]
    conversation.message_count += 1
    conversation.save()
    outbox.emit(
        workspace=conversation.workspace,
        name="inbox.message.sent",
        payload={
            "message_id": message.pk,
            "conversation_id": conversation.pk,
            "channel": conversation.channel,
        },
    )
    events.publish_message(message, conversation)
    return message


def note_add(*, conversation: Conversation, author: User, text: str, actor: Actor) -> Message:
    """An internal note, never sent to the customer. @username mentions notify those members."""
    _ensure_agent(conversation, author)
    plain, _ = _clean_content(text, "")
    if not plain.strip():
        raise ValidationFailed("A note needs text.", field_errors={"text": ["Required."]})
    message = Message.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        kind=Message.Kind.NOTE,
        author_user=author,
        text=plain,
        delivery_status=Message.Delivery.SENT,
    )
    search_text_add(message=message)
    usernames = set(MENTION_RE.findall(plain))
    mentioned = list(
        User.objects.filter(
            username__in=usernames, memberships__workspace_id=conversation.workspace_id
        ).exclude(pk=author.pk)
    )
    Mention.objects.bulk_create(Mention(message=message, user=user) for user in mentioned)
    Conversation.objects.filter(pk=conversation.pk).update(message_count=F("message_count") + 1)
    for user in mentioned:
        realtime.publish_on_commit(
            workspace_id=conversation.workspace_id,
            event="inbox.mention.created",
            payload={
                "user_id": user.pk,
                "conversation_id": conversation.pk,
                "message_id": message.pk,
            },
        )
    events.publish_message(message, conversation)
    return message


DELIVERY_ORDER: dict[str, int] = {
    Message.Delivery.QUEUED: 0,
    Message.Delivery.SENT: 1,
    Message.Delivery.DELIVERED: 2,
    Message.Delivery.READ: 3,
}


def message_delivery_update(
    *, inbox: Inbox, provider_id: str, status: str, error: str = ""
) -> Message | None:
    """Apply a provider's delivery callback. Statuses only move forward (a late "delivered"
    after "read" is ignored); "failed" is recorded with its error. Unknown ids return None."""
    if status not in Message.Delivery.values:
        raise ValidationFailed(f"Unknown delivery status {status!r}.")
    message = (
        Message.objects.select_for_update().filter(inbox=inbox, provider_id=provider_id).first()
    )
    if message is None:
        return None
    current = message.delivery_status
    if status == Message.Delivery.FAILED:
        message.delivery_status, message.delivery_error = status, error[:2000]
    elif DELIVERY_ORDER.get(status, -1) > DELIVERY_ORDER.get(current, -1):
        message.delivery_status = status
    else:
        return message
    message.save(update_fields=["delivery_status", "delivery_error", "updated_at"])
    realtime.publish_on_commit(
        workspace_id=message.workspace_id,
        event="inbox.message.delivery",
        payload={
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "status": message.delivery_status,
        },
    )
    return message


def message_mark_sent(*, message: Message, provider_id: str) -> None:
    """Record the provider id an outbound message got when the connector sent it."""
    message.provider_id = provider_id
    if DELIVERY_ORDER.get(message.delivery_status, -1) < DELIVERY_ORDER[Message.Delivery.SENT]:
        message.delivery_status = Message.Delivery.SENT
    message.save(update_fields=["provider_id", "delivery_status", "updated_at"])
