"""Writes of the API channel: setting an inbox up, taking messages in, recording deliveries.

The caller (API operation or job) owns the transaction. Messages go through the inbox write path
(`inbox.services.message_receive`, `message_mark_sent`, `message_delivery_update`), so
threading, idempotency, metrics, outbox events and the agents' realtime feed are the inbox's,
exactly as for every other channel.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from ascolto.accounts.models import Team
from ascolto.connectors.api_channel import selectors
from ascolto.connectors.api_channel.config import (
    max_attempts,
    retry_delays,
    url_problem,
    webhook_settings,
)
from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.connectors.api_channel.schemas import IngestIn
from ascolto.connectors.api_channel.webhook import AttemptResult
from ascolto.core import realtime
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Inbox, Message
from ascolto.inbox.services import IncomingAttachment

# --- Setting an inbox up (admins) -----------------------------------------------------------


def api_inbox_create(
    *,
    workspace: Workspace,
    name: str,
    actor: Actor,
    webhook_url: str = "",
    team: Team | None = None,
    routing: str = Inbox.Routing.LEAST_LOADED,
    reopen_window_hours: int = 72,
) -> tuple[Inbox, str]:
    """An API-channel inbox with its webhook; returns (inbox, webhook secret)."""
    inbox = inbox_services.inbox_create(
        workspace_id=workspace.pk,
        name=name,
        channel=Channel.API,
        actor=actor,
        team=team,
        routing=routing,
        reopen_window_hours=reopen_window_hours,
    )
    secret = webhook_configure(inbox=inbox, actor=actor, webhook_url=webhook_url)
    assert secret is not None  # a new inbox has no secret yet, so one was generated
    return inbox, secret


def webhook_configure(
    *, inbox: Inbox, actor: Actor, webhook_url: str | None = None, rotate_secret: bool = False
) -> str | None:
    """Set the URL replies are POSTed to (None keeps it; "" removes it) and, the first time or
    when asked, generate a new signing secret. Returns the new secret, else None: it is shown
    once, to be given to the receiving system."""
    if inbox.channel != Channel.API:
        raise ValidationFailed("Only API channel inboxes have a webhook.")
    config: dict[str, Any] = dict(inbox.config) if isinstance(inbox.config, dict) else {}
    if webhook_url is not None:
        url = webhook_url.strip()
        problem = url_problem(url) if url else None
        if problem:
            raise ValidationFailed(
                f"The webhook URL cannot be used: {problem}",
                field_errors={"webhook_url": [problem]},
            )
        config["webhook_url"] = url
    new_secret = None
    if rotate_secret or not webhook_settings(config).secret:
        new_secret = config["webhook_secret"] = secrets.token_hex(32)
    inbox.config = config
    inbox.save(update_fields=["config", "updated_at"])
    audit_record(
        workspace=inbox.workspace,
        actor=actor,
        action="api_channel.configure",
        object_type="inbox",
        object_id=inbox.pk,
        changes={"webhook_url": config.get("webhook_url", ""), "secret_rotated": bool(new_secret)},
    )
    return new_secret


# --- Taking messages in ---------------------------------------------------------------------


@dataclass
class IngestItem:
    """A customer's message as the sending system describes it."""

    provider_id: str
    identity_kind: str
    identity_value: str
    name: str = ""
    text: str = ""
    html: str = ""
    subject: str = ""
    occurred_at: dt.datetime | None = None
    attachments: list[IncomingAttachment] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class IngestResult:
    message_id: int
    conversation_id: int | None
    customer_id: int | None
    created: bool
    conversation_created: bool = False
    refused_attachments: list[str] = field(default_factory=list)


def message_ingest(*, inbox: Inbox, item: IngestItem, actor: Actor) -> IngestResult:
    """Store a customer's message sent by a system. Idempotent by `provider_id`: a message
    already stored or accepted under it is returned (created=False) and nothing is written,
    whatever else the repeat says. A message the fast path accepted but the intake worker has
    not stored yet is answered with its reserved message id and no conversation yet.

    Writes the intake ledger row (`InboundIntake`) first: a concurrent delivery of the same
    provider id, by either path, waits on its unique key and then answers as a repeat. The
    customer is the one owning the identity, created when nobody does. A time in the future
    (a skewed clock) is taken as now. Raises ValidationFailed with field paths as the API
    names them (`customer.value`, `text`), Conflict when the inbox is disabled (a repeat of a
    message stored before is still answered).
    """
    existing = selectors.message_by_provider_id(inbox=inbox, provider_id=item.provider_id)
    if existing is not None:
        return _duplicate(existing)
    ledger, fresh = _ledger_claim(inbox=inbox, item=item, actor=actor)
    if not fresh:
        return _repeat(ledger)
    if not inbox.is_active:
        raise Conflict("This inbox is disabled and takes no new messages; enable it first.")
    result = message_store(inbox=inbox, item=item, actor=actor)
    InboundIntake.objects.filter(pk=ledger.pk).update(
        message_id=result.message_id,
        conversation_id=result.conversation_id,
        customer_id=result.customer_id,
        conversation_created=result.conversation_created,
        processed_at=timezone.now(),
        attempts=1,
    )
    return result


def _ledger_claim(*, inbox: Inbox, item: IngestItem, actor: Actor) -> tuple[InboundIntake, bool]:
    try:
        with transaction.atomic():
            return InboundIntake.objects.create(
                workspace_id=inbox.workspace_id,
                inbox=inbox,
                provider_id=item.provider_id,
                user_id=actor.user_id,
                token_id=actor.token_id,
                received_at=timezone.now(),
            ), True
    except IntegrityError:
        return InboundIntake.objects.get(inbox=inbox, provider_id=item.provider_id), False


def _repeat(ledger: InboundIntake) -> IngestResult:
    if ledger.message_id is None:  # accepted, then refused by the intake worker
        raise ValidationFailed(ledger.last_error or "This message could not be stored.")
    return IngestResult(
        message_id=ledger.message_id,
        conversation_id=ledger.conversation_id,
        customer_id=ledger.customer_id,
        created=False,
    )


def message_store(
    *, inbox: Inbox, item: IngestItem, actor: Actor, message_id: int | None = None
) -> IngestResult:
    """Store an accepted message: the customer owning the identity (created when nobody
    does) and the message through the inbox write path (`message_id`: the id reserved when the
    intake acknowledged it). No ledger or inbox-state checks: the caller made them."""
    try:
        customer, _ = customer_services.customer_get_or_create_by_identity(
            workspace=inbox.workspace,
            kind=item.identity_kind,
            value=item.identity_value,
            actor=actor,
            name=item.name,
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            exc.message,
            field_errors={f"customer.{k}": v for k, v in exc.field_errors.items()}
            or {"customer": [exc.message]},
        ) from None
    now = timezone.now()
    result = inbox_services.message_receive(
        inbox=inbox,
        customer=customer,
        text=item.text,
        html=item.html,
        provider_id=item.provider_id,
        subject=item.subject,
        occurred_at=min(item.occurred_at, now) if item.occurred_at else None,
        attachments=item.attachments,
        metadata=item.metadata,
        message_id=message_id,
    )
    if result.duplicate:  # a concurrent delivery of the same message stored it first
        return _duplicate(result.message)
    return IngestResult(
        message_id=result.message.pk,
        conversation_id=result.conversation.pk,
        customer_id=customer.pk,
        created=True,
        conversation_created=result.conversation_created,
        refused_attachments=result.refused_attachments,
    )


def item_from_payload(payload: dict[str, Any]) -> IngestItem:
    """The item of a validated `IngestIn` body as the intake stored it (JSON)."""
    body = IngestIn.model_validate(payload)
    return IngestItem(
        provider_id=body.provider_id,
        identity_kind=body.customer.kind,
        identity_value=body.customer.value,
        name=body.customer.name,
        text=body.text,
        html=body.html,
        subject=body.subject,
        occurred_at=body.occurred_at,
        attachments=[
            IncomingAttachment(
                filename=a.filename, content_type=a.content_type, content=a.content_base64
            )
            for a in body.attachments
        ],
        metadata=body.metadata,
    )


def _duplicate(message: Message) -> IngestResult:
    return IngestResult(
        message_id=message.pk,
        conversation_id=message.conversation_id,
        customer_id=message.author_customer_id,
        created=False,
    )


def delivery_update(*, inbox: Inbox, provider_id: str, status: str, error: str = "") -> Message:
    """The system reports what became of a reply (delivered, read, failed). States only move
    forward (see `message_delivery_update`). NotFound for a provider id the inbox does not
    know."""
    message = inbox_services.message_delivery_update(
        inbox=inbox, provider_id=provider_id, status=status, error=error
    )
    if message is None:
        raise NotFound(
            "This inbox has no message with that provider id.",
            field_errors={"provider_id": ["Unknown in this inbox."]},
        )
    return message


# --- Delivering replies ---------------------------------------------------------------------


def delivery_key(message: Message) -> str:
    """The reply's id towards the system: the Idempotency-Key of every attempt and, once sent,
    its provider id (delivery callbacks name it)."""
    return f"ascolto:out:{message.pk}"


@dataclass(frozen=True)
class ReplyRequest:
    url: str
    secret: str
    body: bytes
    key: str


def reply_request(*, message: Message) -> ReplyRequest:
    """What to POST for a reply (read from `selectors.reply_for_delivery`)."""
    conversation = message.conversation
    customer = conversation.customer
    author = message.author_user
    payload = {
        "event": "message.created",
        "delivery_id": delivery_key(message),
        "inbox_id": message.inbox_id,
        "conversation": {
            "id": conversation.pk,
            "subject": conversation.subject,
            "external_thread_id": conversation.external_thread_id,
        },
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "identities": [{"kind": i.kind, "value": i.value} for i in customer.identities.all()],
        },
        "message": {
            "id": message.pk,
            "provider_id": delivery_key(message),
            "in_reply_to": selectors.replied_to(message=message),
            "kind": message.kind,
            "text": message.text,
            "html": message.html,
            "created_at": message.created_at,
            "author": None
            if author is None
            else {"id": author.pk, "name": author.get_full_name() or author.get_username()},
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in message.attachments.all()
                if not a.refused_reason
            ],
        },
    }
    webhook = webhook_settings(message.inbox.config)
    body = json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    return ReplyRequest(
        url=webhook.url, secret=webhook.secret, body=body, key=delivery_key(message)
    )


@dataclass(frozen=True)
class Outcome:
    state: str  # "sent", "retry", "failed" or "skipped" (delivered or given up already)
    retry_in: int | None = None


def reply_attempt_record(*, message_id: int, result: AttemptResult, attempt: int) -> Outcome:
    """Record one delivery attempt. Success marks the reply sent under its delivery key; a
    retryable failure asks for another attempt after the next delay of the schedule; the
    last failed attempt (or a permanent failure: 4xx, no URL) marks it failed with the error.
    Locks the message row, so two attempts never record over each other."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("inbox")
        .filter(pk=message_id, delivery_status=Message.Delivery.QUEUED)
        .first()
    )
    if message is None:
        return Outcome("skipped")
    key = delivery_key(message)
    if result.ok:
        inbox_services.message_mark_sent(message=message, provider_id=key)
        realtime.publish_on_commit(
            workspace_id=message.workspace_id,
            event="inbox.message.delivery",
            payload={
                "message_id": message.pk,
                "conversation_id": message.conversation_id,
                "status": message.delivery_status,
            },
        )
        return Outcome("sent")
    delays = retry_delays()
    if result.retryable and attempt <= len(delays):
        return Outcome("retry", retry_in=delays[attempt - 1])
    error = f"{result.error} (attempt {attempt} of {max_attempts()})"
    # The inbox records failures by provider id: give the reply its key first.
    inbox_services.message_mark_sent(message=message, provider_id=key)
    inbox_services.message_delivery_update(
        inbox=message.inbox, provider_id=key, status=Message.Delivery.FAILED, error=error
    )
    return Outcome("failed")


def no_webhook() -> AttemptResult:
    return AttemptResult(
        ok=False, retryable=False, error="No webhook URL is configured for this inbox."
    )
