"""Writes of the email channel: mailboxes, taking mail in, bounces, and replies' send records.

The caller (view, IMAP poll, job) owns the transaction. Customer messages go through the inbox
write path (`inbox.services.message_receive`), so idempotency, threading into conversations,
metrics, outbox events and the agents' realtime feed are the inbox's, as for every channel.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.connectors.email import threading
from ascolto.connectors.email.models import BouncedAddress, EmailMessageRecord, Mailbox
from ascolto.connectors.email.parsing import (
    EmailParseError,
    ParsedEmail,
    format_address,
    parse_email,
    peek_message_id,
)
from ascolto.connectors.email.smtp.outbound import AttemptResult
from ascolto.core import realtime
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import DomainError, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.customers.models import Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Inbox, Message
from ascolto.inbox.services import IncomingAttachment
from ascolto.inbox.services.messages import MAX_TEXT

SYSTEM = Actor.system("email")


class EmailTooLarge(DomainError):
    status = 413
    code = "too_large"


class NotAnEmail(DomainError):
    status = 400
    code = "invalid"


def mailbox_create(
    *,
    workspace: Workspace,
    name: str,
    address: str,
    actor: Actor,
    display_name: str = "",
    **fields: object,
) -> Mailbox:
    """An email inbox and its mailbox. `fields` are Mailbox fields (IMAP, SMTP, aliases);
    `imap_password` and `smtp_password` are given in plaintext and stored encrypted."""
    address = address.strip().lower()
    if "@" not in address:
        raise ValidationFailed(
            _("Enter the mailbox's email address."), field_errors={"address": ["Invalid."]}
        )
    if Mailbox.objects.filter(workspace=workspace, address=address).exists():
        raise ValidationFailed(
            _("This workspace already has a mailbox with this address."),
            field_errors={"address": ["Already used."]},
        )
    inbox = inbox_services.inbox_create(
        workspace_id=workspace.pk, name=name, channel=Channel.EMAIL, actor=actor
    )
    imap_password = str(fields.pop("imap_password", "") or "")
    smtp_password = str(fields.pop("smtp_password", "") or "")
    mailbox = Mailbox(
        workspace=workspace,
        inbox=inbox,
        address=address,
        display_name=display_name,
        inbound_token=secrets.token_urlsafe(32),
        **fields,
    )
    mailbox.imap_password = imap_password
    mailbox.smtp_password = smtp_password
    mailbox.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="email.mailbox.create",
        object_type="inbox",
        object_id=inbox.pk,
        changes={"address": address},
    )
    return mailbox


@dataclass
class IngestOutcome:
    record: EmailMessageRecord
    created: bool
    message: Message | None = None
    refused_attachments: list[str] | None = None


def email_ingest(
    *, mailbox: Mailbox, raw: bytes, source: str, imap_uid: int | None = None
) -> IngestOutcome:
    """Store one raw email received by `mailbox`. Idempotent by Message-ID (or, lacking one, a
    hash of the bytes): a repeat returns the stored record with created=False.

    Customer mail becomes an inbound message of the mailbox's inbox, threaded by
    `threading.conversation_for_reply`. Machine mail (auto-replies, bulk) is stored the same
    way, flagged `metadata["email"]["automatic"]`, so replies sent automatically skip it.
    Bounces mark the failing addresses and the reply they answer; mail from our own addresses
    (a loop) is kept as a record only. Raises EmailTooLarge (413) and NotAnEmail (400).
    """
    if len(raw) > mailbox.max_message_bytes:
        raise EmailTooLarge(
            _("The message is larger than this mailbox accepts (%(limit)s bytes).")
            % {"limit": mailbox.max_message_bytes}
        )
    known = peek_message_id(raw)
    existing = (
        EmailMessageRecord.objects.filter(mailbox=mailbox, message_id=known).first()
        if known
        else None
    )
    if existing is not None:
        return IngestOutcome(existing, False, existing.inbox_message)
    try:
        parsed = parse_email(raw)
    except EmailParseError:
        raise NotAnEmail(
            _("This is not an email message: it has no header fields."),
            field_errors={"body": [_("Send the raw message, header fields first.")]},
        ) from None
    existing = EmailMessageRecord.objects.filter(
        mailbox=mailbox, message_id=parsed.message_id
    ).first()
    if existing is not None:
        return IngestOutcome(existing, False, existing.inbox_message)
    try:
        with transaction.atomic():
            return _ingest(mailbox=mailbox, raw=raw, parsed=parsed, source=source, uid=imap_uid)
    except IntegrityError:
        # A concurrent delivery of the same message stored it first.
        existing = EmailMessageRecord.objects.filter(
            mailbox=mailbox, message_id=parsed.message_id
        ).first()
        if existing is None:
            raise
        return IngestOutcome(existing, False, existing.inbox_message)


def _record(
    *,
    mailbox: Mailbox,
    parsed: ParsedEmail,
    raw: bytes,
    kind: str,
    source: str,
    uid: int | None,
    note: str = "",
) -> EmailMessageRecord:
    return EmailMessageRecord.objects.create(
        workspace_id=mailbox.workspace_id,
        mailbox=mailbox,
        direction=EmailMessageRecord.Direction.INBOUND,
        kind=kind,
        message_id=parsed.message_id,
        in_reply_to=" ".join(parsed.in_reply_to)[:255],
        references=" ".join(parsed.references),
        subject=parsed.subject,
        from_address=parsed.from_address[:254],
        to_addresses=", ".join(parsed.to + parsed.cc),
        source=source,
        imap_uid=uid,
        note=note,
        raw=raw,
    )


def _ingest(
    *, mailbox: Mailbox, raw: bytes, parsed: ParsedEmail, source: str, uid: int | None
) -> IngestOutcome:
    kinds = EmailMessageRecord.Kind
    if parsed.bounce is not None:
        record = _record(
            mailbox=mailbox, parsed=parsed, raw=raw, kind=kinds.BOUNCE, source=source, uid=uid
        )
        bounce_apply(mailbox=mailbox, parsed=parsed, record=record)
        return IngestOutcome(record, True)
    if parsed.from_address in mailbox.own_addresses():
        record = _record(
            mailbox=mailbox,
            parsed=parsed,
            raw=raw,
            kind=kinds.LOOP,
            source=source,
            uid=uid,
            note=_("Sent from this mailbox's own address: kept, not answered (mail loop)."),
        )
        return IngestOutcome(record, True)
    if not parsed.from_address:  # nobody to answer
        record = _record(
            mailbox=mailbox,
            parsed=parsed,
            raw=raw,
            kind=kinds.REJECTED,
            source=source,
            uid=uid,
            note=_("The message has no sender address, so it cannot be answered."),
        )
        return IngestOutcome(record, True)

    try:
        customer, _created = customer_services.customer_get_or_create_by_identity(
            workspace=mailbox.workspace,
            kind=Identity.Kind.EMAIL,
            value=parsed.from_address,
            actor=SYSTEM,
            name=parsed.from_name[:200],
        )
    except ValidationFailed as exc:
        record = _record(
            mailbox=mailbox,
            parsed=parsed,
            raw=raw,
            kind=kinds.REJECTED,
            source=source,
            uid=uid,
            note=_("The sender address cannot be used: %(reason)s") % {"reason": exc.message},
        )
        return IngestOutcome(record, True)
    conversation = threading.conversation_for_reply(
        mailbox=mailbox, parsed=parsed, customer=customer
    )
    attachments = [
        IncomingAttachment(filename=a.filename, content_type=a.content_type, content=a.content)
        for a in parsed.attachments
    ]
    text = parsed.visible_text[:MAX_TEXT]
    if not text and not attachments:
        text = parsed.subject or _("(empty message)")
    email_meta: dict[str, object] = {
        "message_id": parsed.message_id,
        "from": parsed.from_address,
        "to": parsed.to,
        "cc": parsed.cc,
        "trimmed": parsed.visible_text != parsed.text.strip(),
    }
    if parsed.automatic:
        email_meta["automatic"] = parsed.automatic
    if parsed.synthetic_id:
        email_meta["synthetic_id"] = True
    result = inbox_services.message_receive(
        inbox=mailbox.inbox,
        customer=customer,
        text=text,
        html=parsed.visible_html,
        provider_id=parsed.message_id,
        subject=parsed.subject,
        occurred_at=min(parsed.date, timezone.now()) if parsed.date else None,
        conversation=conversation,
        new_thread=conversation is None,
        attachments=attachments,
        metadata={"email": email_meta},
    )
    record = _record(
        mailbox=mailbox,
        parsed=parsed,
        raw=raw,
        kind=kinds.AUTOMATIC if parsed.automatic else kinds.MESSAGE,
        source=source,
        uid=uid,
        note=parsed.automatic,
    )
    record.conversation = result.conversation
    record.inbox_message = result.message
    record.save(update_fields=["conversation", "inbox_message", "updated_at"])
    if not result.duplicate:
        _link_inline_images(result.message, parsed)
    return IngestOutcome(record, True, result.message, result.refused_attachments)


def _link_inline_images(message: Message, parsed: ParsedEmail) -> None:
    """Point the HTML's `cid:` images at the stored attachments, so the console shows them.

    The inbox stores the attachments in the order it is given them, refused ones included (as
    records without a file); a refused image keeps its `cid:` source and shows as missing.
    """
    if not message.html or not any(a.content_id for a in parsed.attachments):
        return
    stored = list(message.attachments.order_by("pk"))
    html = message.html
    for part, attachment in zip(parsed.attachments, stored, strict=False):
        if part.content_id and not attachment.refused_reason:
            url = reverse("inbox:attachment", args=[attachment.pk])
            html = html.replace(f'src="cid:{part.content_id}"', f'src="{url}"')
    if html != message.html:
        message.html = html
        message.save(update_fields=["html"])


def bounce_apply(*, mailbox: Mailbox, parsed: ParsedEmail, record: EmailMessageRecord) -> None:
    """A delivery failure report: each failed recipient's email identity is marked failing,
    and our reply the report returns (found by its Message-ID) is marked failed."""
    report = parsed.bounce
    if report is None:
        return
    now = timezone.now()
    reason = report.diagnostic or report.status or _("The receiving server refused the message.")
    for address in report.failed_recipients:
        identity = Identity.objects.filter(
            workspace_id=mailbox.workspace_id, kind=Identity.Kind.EMAIL, value=address
        ).first()
        if identity is None:
            continue
        health, _new = BouncedAddress.objects.get_or_create(
            identity=identity, defaults={"workspace_id": mailbox.workspace_id}
        )
        health.failing = True
        health.bounce_count += 1
        health.last_status = report.status[:20]
        health.last_reason = reason[:2000]
        health.last_bounced_at = now
        health.save()
    if not report.original_message_id:
        return
    sent = (
        EmailMessageRecord.objects.filter(
            workspace_id=mailbox.workspace_id,
            mailbox=mailbox,
            direction=EmailMessageRecord.Direction.OUTBOUND,
            message_id=report.original_message_id,
        )
        .select_related("inbox_message")
        .first()
    )
    if sent is None or sent.inbox_message is None:
        return
    record.conversation_id = sent.conversation_id
    record.save(update_fields=["conversation", "updated_at"])
    recipients = ", ".join(report.failed_recipients)
    inbox_services.message_delivery_update(
        inbox=mailbox.inbox,
        provider_id=sent.message_id,
        status=Message.Delivery.FAILED,
        error=_("Bounced by %(recipients)s: %(reason)s")
        % {"recipients": recipients or "?", "reason": reason},
    )


def address_is_failing(*, workspace_id: int, address: str) -> bool:
    return BouncedAddress.objects.filter(
        workspace_id=workspace_id,
        identity__kind=Identity.Kind.EMAIL,
        identity__value=address.lower(),
        failing=True,
    ).exists()


def mailbox_for_inbox(inbox: Inbox) -> Mailbox | None:
    return Mailbox.objects.filter(workspace_id=inbox.workspace_id, inbox=inbox).first()


def mailbox_record_error(*, mailbox_id: int, error: str) -> None:
    Mailbox.objects.filter(pk=mailbox_id).update(
        last_error=error[:4000], last_error_at=timezone.now()
    )


def mailbox_advance(*, mailbox: Mailbox, uid: int) -> None:
    """Move the IMAP high-water mark; in the transaction that stored message `uid`."""
    Mailbox.objects.filter(pk=mailbox.pk, last_uid__lt=uid).update(last_uid=uid)
    mailbox.last_uid = max(mailbox.last_uid, uid)


def ingest_rejected(
    *, mailbox: Mailbox, raw: bytes, source: str, uid: int | None, error: str
) -> EmailMessageRecord:
    """Keep a fetched message that could not be stored as mail (not an email, too large), so
    the poll moves past it and an admin sees what came and why it was refused."""
    message_id = f"<{hashlib.sha256(raw).hexdigest()[:40]}@rejected.invalid>"
    record, _new = EmailMessageRecord.objects.get_or_create(
        mailbox=mailbox,
        message_id=message_id,
        defaults={
            "workspace_id": mailbox.workspace_id,
            "direction": EmailMessageRecord.Direction.INBOUND,
            "kind": EmailMessageRecord.Kind.REJECTED,
            "source": source,
            "imap_uid": uid,
            "note": error[:4000],
            "raw": raw[: mailbox.max_message_bytes],
        },
    )
    return record


# --- Replies --------------------------------------------------------------------------------


@dataclass
class PreparedReply:
    message_id: int
    email: EmailMultiAlternatives
    mailbox: Mailbox


def retry_delays() -> list[int]:
    return [int(d) for d in getattr(settings, "ASCOLTO_EMAIL_RETRY_DELAYS", [30, 120, 600, 1800])]


def _fail(message: Message, error: str) -> None:
    key = message.provider_id or f"<failed.{message.pk}@ascolto.invalid>"
    if not message.provider_id:
        inbox_services.message_mark_sent(message=message, provider_id=key)
    inbox_services.message_delivery_update(
        inbox=message.inbox, provider_id=key, status=Message.Delivery.FAILED, error=error
    )


def reply_prepare(*, message_id: int) -> PreparedReply | None:
    """The MIME mail for a queued reply of an email inbox, or None when there is nothing to
    send (no longer queued) or it must not be sent (recorded as failed, with why).

    The reply's Message-ID is chosen once and kept in its outbound record, so every attempt
    and any bounce name the same mail. It answers the customer's latest mail (In-Reply-To,
    References) and carries the conversation's token in Reply-To and the subject. An automatic
    reply (the assistant's) to a machine-written mail is never sent: that is how loops start.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation", "inbox", "conversation__customer")
        .filter(
            pk=message_id,
            delivery_status=Message.Delivery.QUEUED,
            inbox__channel=Channel.EMAIL,
        )
        .first()
    )
    if message is None:
        return None
    mailbox = mailbox_for_inbox(message.inbox)
    if mailbox is None:
        _fail(message, _("This inbox has no mailbox to send from."))
        return None
    conversation = message.conversation
    last_in = (
        EmailMessageRecord.objects.filter(
            mailbox=mailbox,
            conversation=conversation,
            direction=EmailMessageRecord.Direction.INBOUND,
        )
        .exclude(kind=EmailMessageRecord.Kind.BOUNCE)
        .order_by("-created_at", "-id")
        .first()
    )
    automatic_author = message.kind == Message.Kind.BOT or message.author_user_id is None
    if automatic_author and last_in is not None and last_in.kind == last_in.Kind.AUTOMATIC:
        _fail(
            message,
            _("Not sent: the customer's last mail was automatic (%(why)s); no automatic answer.")
            % {"why": last_in.note or "auto-reply"},
        )
        return None
    recipient = last_in.from_address if last_in is not None else ""
    if not recipient:
        identity = (
            conversation.customer.identities.filter(kind=Identity.Kind.EMAIL)
            .order_by("-is_primary", "id")
            .first()
        )
        recipient = identity.value if identity is not None else ""
    if not recipient:
        _fail(message, _("The customer has no email address to reply to."))
        return None

    record = EmailMessageRecord.objects.filter(
        mailbox=mailbox, inbox_message=message, direction=EmailMessageRecord.Direction.OUTBOUND
    ).first()
    domain = mailbox.address.partition("@")[2] or "localhost"
    references: list[str] = []
    if last_in is not None:
        references = [*last_in.references.split(), last_in.message_id][-20:]
    token = threading.thread_token(mailbox=mailbox, conversation=conversation)
    subject = conversation.subject or _("Your message")
    if not threading.REPLY_PREFIX_RE.match(subject):
        subject = f"Re: {subject}"
    if f"[#{token}]" not in subject:
        subject = f"{subject} [#{token}]"
    if record is None:
        record = EmailMessageRecord(
            workspace_id=mailbox.workspace_id,
            mailbox=mailbox,
            direction=EmailMessageRecord.Direction.OUTBOUND,
            kind=EmailMessageRecord.Kind.REPLY,
            message_id=f"<ascolto.{message.pk}.{secrets.token_hex(8)}@{domain}>",
            conversation=conversation,
            inbox_message=message,
            source="smtp",
        )
    record.in_reply_to = last_in.message_id if last_in is not None else ""
    record.references = " ".join(references)
    record.subject = subject[:300]
    record.from_address = mailbox.address
    record.to_addresses = recipient

    headers = {"Message-ID": record.message_id}
    if last_in is not None:
        headers["In-Reply-To"] = last_in.message_id
        headers["References"] = " ".join(references)
    if automatic_author:
        headers["Auto-Submitted"] = "auto-replied"
    email = EmailMultiAlternatives(
        subject=subject,
        body=message.text,
        from_email=format_address(mailbox.display_name or mailbox.inbox.name, mailbox.address),
        to=[recipient],
        reply_to=[threading.reply_address(mailbox, token)],
        headers=headers,
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    for attachment in message.attachments.filter(refused_reason=""):
        with attachment.file.open("rb") as handle:
            email.attach(attachment.filename, handle.read(), attachment.content_type)
    record.raw = email.message().as_bytes()
    record.save()
    return PreparedReply(message_id=message.pk, email=email, mailbox=mailbox)


@dataclass(frozen=True)
class Outcome:
    state: str  # "sent", "retry", "failed" or "skipped"
    retry_in: int | None = None


def reply_attempt_record(*, message_id: int, result: AttemptResult, attempt: int) -> Outcome:
    """Record one SMTP attempt: sent under its Message-ID; a retryable failure asks for
    another attempt after the next delay; the last one, or a permanent failure (5xx, refused
    recipient), marks the reply failed with the server's answer, which the agent sees."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("inbox")
        .filter(pk=message_id, delivery_status=Message.Delivery.QUEUED)
        .first()
    )
    if message is None:
        return Outcome("skipped")
    record = EmailMessageRecord.objects.filter(
        inbox_message=message, direction=EmailMessageRecord.Direction.OUTBOUND
    ).first()
    key = record.message_id if record is not None else f"<ascolto.{message.pk}@ascolto.invalid>"
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
    inbox_services.message_mark_sent(message=message, provider_id=key)
    _fail(
        message,
        _("Not delivered: %(error)s (attempt %(attempt)s of %(total)s)")
        % {"error": result.error, "attempt": attempt, "total": len(delays) + 1},
    )
    return Outcome("failed")
