"""Writes of the Twilio connector: accounts, inbound messages, status callbacks, replies.

The caller (webhook view or job) owns the transaction. Messages go through the inbox write path
(`message_receive`, `message_delivery_update`), customers through the customers services: the
sender's number is a phone identity, so one person writing by SMS and by WhatsApp from the same
number is one customer (WhatsApp senders get a whatsapp identity beside it).
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from ascolto.connectors.crypto import reencrypt
from ascolto.connectors.twilio import parse
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer, Identity
from ascolto.customers.normalize import normalize_phone
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Inbox, Message

DEFAULT_API_BASE = "https://api.twilio.com"


def api_base() -> str:
    return str(getattr(settings, "ASCOLTO_TWILIO_API_BASE", DEFAULT_API_BASE)).rstrip("/")


# --- Accounts -------------------------------------------------------------------------------


def twilio_account_create(
    *,
    workspace: Workspace,
    name: str,
    account_sid: str,
    auth_token: str,
    from_number: str,
    actor: Actor,
    routing: str = Inbox.Routing.LEAST_LOADED,
) -> TwilioAccount:
    """An SMS inbox (from_number "+E.164") or a WhatsApp inbox ("whatsapp:+E.164") with its
    Twilio account. The auth token is stored encrypted and never written to the audit log."""
    errors: dict[str, list[str]] = {}
    if not account_sid.strip().startswith("AC"):
        errors["account_sid"] = ["A Twilio account SID starts with AC."]
    if not auth_token.strip():
        errors["auth_token"] = ["Required."]
    whatsapp = from_number.strip().startswith("whatsapp:")
    try:
        number = normalize_phone(from_number)
    except ValidationFailed:
        errors["from_number"] = ["An international number, e.g. +39 06 1234 5678."]
    if errors:
        raise ValidationFailed("The Twilio account is not valid.", field_errors=errors)
    inbox = inbox_services.inbox_create(
        workspace_id=workspace.pk,
        name=name,
        channel=Channel.WHATSAPP if whatsapp else Channel.SMS,
        actor=actor,
        routing=routing,
    )
    account = TwilioAccount(
        workspace=workspace,
        inbox=inbox,
        account_sid=account_sid.strip(),
        from_number=f"whatsapp:{number}" if whatsapp else number,
    )
    account.auth_token = auth_token.strip()
    account.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="twilio.account.create",
        object_type="twilio_account",
        object_id=account.pk,
        changes={"account_sid": account.account_sid, "from_number": account.from_number},
    )
    return account


def credentials_rotate() -> int:
    """Re-encrypt every stored auth token under the current SECRET_KEY (after a rotation, with
    the old key in SECRET_KEY_FALLBACKS). Returns how many were rewritten."""
    count = 0
    for account in TwilioAccount.objects.exclude(auth_token_encrypted="").iterator():
        account.auth_token_encrypted = reencrypt(account.auth_token_encrypted)
        account.save(update_fields=["auth_token_encrypted", "updated_at"])
        count += 1
    return count


# --- Customers by phone number --------------------------------------------------------------


def customer_for_phone(
    *, workspace: Workspace, number: str, whatsapp: bool, actor: Actor, name: str = ""
) -> Customer:
    """The customer a phone number belongs to, created when nobody has it. A WhatsApp sender
    is found by its whatsapp identity, else by the phone identity of the same number (and the
    whatsapp identity is added), so SMS and WhatsApp from one number are one customer."""
    e164 = normalize_phone(number)
    if whatsapp:
        known = (
            Identity.objects.select_related("customer")
            .filter(workspace=workspace, kind=Identity.Kind.WHATSAPP, value=e164)
            .first()
        )
        if known is not None:
            return known.customer
    customer, _ = customer_services.customer_get_or_create_by_identity(
        workspace=workspace, kind=Identity.Kind.PHONE, value=e164, actor=actor, name=name
    )
    if whatsapp:
        try:
            with transaction.atomic():  # a concurrent insert must not abort the caller's
                customer_services.identity_add(
                    customer=customer, kind=Identity.Kind.WHATSAPP, value=e164, actor=actor
                )
        except (Conflict, IntegrityError):
            # A concurrent delivery gave the number's WhatsApp identity to another customer.
            return Identity.objects.get(
                workspace=workspace, kind=Identity.Kind.WHATSAPP, value=e164
            ).customer
    return customer


# --- Inbound --------------------------------------------------------------------------------


def location_text(latitude: float, longitude: float, label: str = "") -> str:
    link = f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
    return " ".join(p for p in ("📍", label, f"{latitude:.6f}, {longitude:.6f}", link) if p)


@dataclass(frozen=True)
class InboundResult:
    message: Message
    created: bool


def inbound_receive(*, account: TwilioAccount, inbound: parse.Inbound) -> InboundResult:
    """Store an SMS or WhatsApp message. Idempotent by MessageSid: Twilio's retries return the
    stored message and write nothing. Media are kept as references (URL and content type, in
    the message's metadata and as links in its text); a location as coordinates and a map
    link. Conflict when the inbox is disabled."""
    inbox = account.inbox
    existing = Message.objects.filter(
        workspace_id=account.workspace_id, inbox=inbox, provider_id=inbound.message_sid
    ).first()
    if existing is not None:
        return InboundResult(existing, created=False)
    if not inbox.is_active:
        raise Conflict("This inbox is disabled and takes no new messages.")
    actor = Actor.system("twilio")
    try:
        customer = customer_for_phone(
            workspace=account.workspace,
            number=inbound.sender,
            whatsapp=inbound.is_whatsapp,
            actor=actor,
            name=inbound.profile_name,
        )
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field_errors={"From": [exc.message]}) from None
    lines = [inbound.body.strip()] if inbound.body.strip() else []
    lines += [f"[{m.content_type}] {m.url}" for m in inbound.media]
    metadata: dict[str, object] = {"channel": "whatsapp" if inbound.is_whatsapp else "sms"}
    if inbound.media:
        metadata["media"] = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
    if inbound.location is not None:
        loc = inbound.location
        lines.append(location_text(loc.latitude, loc.longitude, loc.label or loc.address))
        metadata["location"] = {
            "latitude": loc.latitude,
            "longitude": loc.longitude,
            "address": loc.address,
            "label": loc.label,
        }
    result = inbox_services.message_receive(
        inbox=inbox,
        customer=customer,
        text="\n".join(lines),
        provider_id=inbound.message_sid,
        metadata=metadata,
    )
    return InboundResult(result.message, created=not result.duplicate)


def status_apply(*, account: TwilioAccount, update: parse.StatusUpdate) -> Message | None:
    """Apply a status callback to the reply Twilio knows by MessageSid. States only move
    forward; a repeat is a no-op. None for a MessageSid this inbox never sent."""
    if update.status is None:
        return Message.objects.filter(
            workspace_id=account.workspace_id, inbox=account.inbox, provider_id=update.message_sid
        ).first()
    return inbox_services.message_delivery_update(
        inbox=account.inbox,
        provider_id=update.message_sid,
        status=update.status,
        error=update.error,
    )


# --- Replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def recipient(message: Message) -> str:
    """The customer's number in Twilio's form for this inbox: "+E.164" or "whatsapp:+E.164"."""
    customer = message.conversation.customer
    kinds = [Identity.Kind.PHONE, Identity.Kind.WHATSAPP]
    values = {i.kind: i.value for i in customer.identities.all() if i.kind in kinds}
    number = values.get(Identity.Kind.PHONE) or values.get(Identity.Kind.WHATSAPP)
    if not number:
        raise ValidationFailed("The customer has no phone number to reply to.")
    whatsapp = message.inbox.channel == Channel.WHATSAPP
    return f"whatsapp:{number}" if whatsapp else number


def send_request(*, account: TwilioAccount, message: Message, status_callback: str) -> SendRequest:
    """The Messages API request that sends `message` (raises ValidationFailed when it cannot
    be sent at all). Replies that carry attachments send their text; Twilio fetches media
    only from public URLs, which stored attachments are not."""
    form = {"To": recipient(message), "From": account.from_number, "Body": message.text}
    if status_callback:
        form["StatusCallback"] = status_callback
    credentials = base64.b64encode(f"{account.account_sid}:{account.auth_token}".encode())
    return SendRequest(
        url=f"{api_base()}/2010-04-01/Accounts/{urllib.parse.quote(account.account_sid)}"
        "/Messages.json",
        body=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + credentials.decode("ascii"),
        },
    )


def describe_error(data: dict[str, object]) -> str:
    """Twilio's JSON error body ({"code": 21211, "message": "..."}) as a sentence."""
    code, text = data.get("code"), data.get("message")
    return f"{text or 'error'}" + (f" (code {code})" if code else "")
