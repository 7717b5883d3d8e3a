"""Writes of voice calls. The caller (API operation) owns the transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from ascolto.accounts.models import Membership, User
from ascolto.connectors.voice.models import CallRecord
from ascolto.core import realtime
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.customers import services as customer_services
from ascolto.customers.models import Activity, Identity
from ascolto.customers.normalize import normalize_phone
from ascolto.customers.services import activity_record
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Conversation, Inbox, Message

MAX_DURATION = 24 * 3600


@dataclass(frozen=True)
class CallInput:
    direction: str
    from_number: str
    to_number: str
    started_at: dt.datetime
    duration_seconds: int
    outcome: str
    recording_url: str = ""
    notes: str = ""
    agent: User | None = None
    external_id: str | None = None


def _duration_text(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"


def call_line(call: CallRecord) -> str:
    """The call as one line of the thread and the timeline, in the workspace's language."""
    with translation.override(call.conversation.workspace.default_locale or "en"):
        parts = [
            gettext("Inbound call")
            if call.direction == CallRecord.Direction.INBOUND
            else gettext("Outbound call"),
            str(call.get_outcome_display()),
        ]
    if call.duration_seconds:
        parts.append(_duration_text(call.duration_seconds))
    return " · ".join(parts)


def _validate(conversation: Conversation, data: CallInput) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    if data.direction not in CallRecord.Direction.values:
        errors["direction"] = [f"One of: {', '.join(CallRecord.Direction.values)}."]
    if data.outcome not in CallRecord.Outcome.values:
        errors["outcome"] = [f"One of: {', '.join(CallRecord.Outcome.values)}."]
    numbers = []
    for field in ("from_number", "to_number"):
        try:
            numbers.append(normalize_phone(getattr(data, field)))
        except ValidationFailed:
            errors[field] = ["An international number, e.g. +39 06 1234 5678."]
    if not 0 <= data.duration_seconds <= MAX_DURATION:
        errors["duration_seconds"] = [f"Between 0 and {MAX_DURATION} seconds."]
    elif data.outcome in (CallRecord.Outcome.MISSED, CallRecord.Outcome.FAILED) and (
        data.duration_seconds
    ):
        errors["duration_seconds"] = ["A missed or failed call lasts 0 seconds."]
    if data.started_at.tzinfo is None:
        errors["started_at"] = ["A date and time with its UTC offset."]
    elif data.started_at > timezone.now() + dt.timedelta(minutes=5):
        errors["started_at"] = ["Not in the future."]
    if data.recording_url:
        parts = urlsplit(data.recording_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors["recording_url"] = ["An http:// or https:// URL."]
    if (
        data.agent is not None
        and not Membership.objects.filter(
            workspace_id=conversation.workspace_id, user=data.agent
        ).exists()
    ):
        errors["agent_id"] = ["Not a member of this workspace."]
    if errors:
        raise ValidationFailed("The call record is not valid.", field_errors=errors)
    return numbers[0], numbers[1]


def call_conversation(
    *,
    inbox: Inbox,
    direction: str,
    from_number: str,
    to_number: str,
    started_at: dt.datetime,
    actor: Actor,
) -> Conversation:
    """The conversation a call reported by number belongs to: the customer is the caller of an
    inbound call or the callee of an outbound one, found by their phone identity (created when
    nobody has it), and the call joins their active conversation in the phone inbox or opens
    one."""
    if inbox.channel != Channel.VOICE:
        raise ValidationFailed(
            "Calls are filed in a phone inbox.", field_errors={"inbox_id": ["Not a phone inbox."]}
        )
    field = "from_number" if direction == CallRecord.Direction.INBOUND else "to_number"
    raw = from_number if field == "from_number" else to_number
    try:
        number = normalize_phone(raw)
    except ValidationFailed:
        raise ValidationFailed(
            "The call record is not valid.",
            field_errors={field: ["An international number, e.g. +39 06 1234 5678."]},
        ) from None
    customer, _ = customer_services.customer_get_or_create_by_identity(
        workspace=inbox.workspace, kind=Identity.Kind.PHONE, value=number, actor=actor
    )
    with translation.override(inbox.workspace.default_locale or "en"):
        subject = gettext("Phone call")
    conversation, _ = inbox_services.conversation_for_contact(
        inbox=inbox, customer=customer, subject=subject, when=started_at
    )
    return conversation


def call_record_create(
    *, conversation: Conversation, data: CallInput, actor: Actor
) -> tuple[CallRecord, bool]:
    """Record a call in a conversation: the record, a system item in the thread, an entry on the
    customer's timeline and, for an answered call with an agent, the call's duration as that
    agent's handling time. Idempotent by `external_id`: a repeat returns (stored, False)."""
    if data.external_id:
        existing = CallRecord.objects.filter(
            workspace_id=conversation.workspace_id, external_id=data.external_id
        ).first()
        if existing is not None:
            return existing, False
    from_number, to_number = _validate(conversation, data)
    try:
        with transaction.atomic():
            call = CallRecord.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                direction=data.direction,
                from_number=from_number,
                to_number=to_number,
                started_at=data.started_at,
                duration_seconds=data.duration_seconds,
                outcome=data.outcome,
                recording_url=data.recording_url,
                agent=data.agent,
                notes=data.notes,
                external_id=data.external_id or None,
            )
    except IntegrityError:
        existing = CallRecord.objects.filter(
            workspace_id=conversation.workspace_id, external_id=data.external_id
        ).first()
        if existing is None:
            raise
        return existing, False
    line = call_line(call)
    text = "\n".join(p for p in (line, call.recording_url, call.notes) if p)
    call.message = Message.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        inbox_id=conversation.inbox_id,
        kind=Message.Kind.SYSTEM,
        author_user=data.agent,
        text=text,
        delivery_status=Message.Delivery.SENT,
        metadata={"call_id": call.pk, "outcome": call.outcome, "direction": call.direction},
        created_at=call.started_at,
    )
    inbox_services.search_text_add(message=call.message)
    call.save(update_fields=["message", "updated_at"])
    Conversation.objects.filter(pk=conversation.pk).update(message_count=F("message_count") + 1)
    realtime.publish_on_commit(
        workspace_id=conversation.workspace_id,
        event="inbox.message.created",
        payload={
            "conversation_id": conversation.pk,
            "message": {
                "id": call.message.pk,
                "kind": Message.Kind.SYSTEM,
                "text": text,
                "html": "",
                "author": (data.agent.get_full_name() or data.agent.get_username())
                if data.agent
                else "",
                "created_at": call.message.created_at.isoformat(),
                "delivery_status": Message.Delivery.SENT,
            },
        },
    )
    activity_record(
        customer=conversation.customer,
        kind=Activity.Kind.EXTERNAL_EVENT,
        title=line,
        body=call.notes[:500],
        actor=actor,
        data={
            "conversation_id": conversation.pk,
            "call_id": call.pk,
            "duration_seconds": call.duration_seconds,
            "outcome": call.outcome,
        },
        occurred_at=call.started_at,
        source_type="call",
        source_id=str(call.pk),
    )
    if data.agent is not None and call.outcome == CallRecord.Outcome.ANSWERED:
        inbox_services.handling_record(
            conversation=conversation,
            agent=data.agent,
            started_at=call.started_at,
            ended_at=call.started_at + dt.timedelta(seconds=call.duration_seconds),
        )
    return call, True
