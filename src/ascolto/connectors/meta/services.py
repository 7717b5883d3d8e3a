"""Writes of the Meta connector: accounts, the webhook's messages and statuses, WhatsApp
templates and the 24-hour window, replies through the Graph API.

The caller (webhook view or job) owns the transaction. Messages go through the inbox write path;
WhatsApp senders are matched by phone number through the Twilio connector's
`customer_for_phone` (one person on SMS and WhatsApp is one customer), Messenger and Instagram
senders by their page-scoped id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext

from ascolto.accounts.models import User
from ascolto.connectors.crypto import reencrypt
from ascolto.connectors.meta import parse
from ascolto.connectors.meta.models import MetaAccount, WhatsAppTemplate
from ascolto.connectors.twilio import services as twilio_services
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, Forbidden, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer, Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Conversation, Inbox, Message

DEFAULT_GRAPH_BASE = "https://graph.facebook.com/v21.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
WHATSAPP_WINDOW = dt.timedelta(hours=24)
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
CHANNELS: dict[str, str] = {
    MetaAccount.Platform.WHATSAPP: Channel.WHATSAPP,
    MetaAccount.Platform.MESSENGER: Channel.MESSENGER,
    MetaAccount.Platform.INSTAGRAM: Channel.INSTAGRAM,
}
IDENTITY_KINDS: dict[str, str] = {
    MetaAccount.Platform.MESSENGER: Identity.Kind.MESSENGER,
    MetaAccount.Platform.INSTAGRAM: Identity.Kind.INSTAGRAM,
}


def graph_base() -> str:
    return str(getattr(settings, "ASCOLTO_META_GRAPH_BASE", DEFAULT_GRAPH_BASE)).rstrip("/")


# --- Accounts -------------------------------------------------------------------------------


def meta_account_create(
    *,
    workspace: Workspace,
    name: str,
    platform: str,
    external_id: str,
    app_secret: str,
    verify_token: str,
    access_token: str,
    actor: Actor,
    routing: str = Inbox.Routing.LEAST_LOADED,
) -> MetaAccount:
    """An inbox for a WhatsApp Cloud number, a Page or an Instagram account, with its Meta
    credentials, stored encrypted and never written to the audit log."""
    errors: dict[str, list[str]] = {}
    if platform not in MetaAccount.Platform.values:
        errors["platform"] = [f"One of: {', '.join(MetaAccount.Platform.values)}."]
    if not external_id.strip().isdigit():
        errors["external_id"] = ["The numeric phone-number or page id Meta shows."]
    for key, value in (
        ("app_secret", app_secret),
        ("verify_token", verify_token),
        ("access_token", access_token),
    ):
        if not value.strip():
            errors[key] = ["Required."]
    if errors:
        raise ValidationFailed("The Meta account is not valid.", field_errors=errors)
    inbox = inbox_services.inbox_create(
        workspace_id=workspace.pk,
        name=name,
        channel=CHANNELS[platform],
        actor=actor,
        routing=routing,
    )
    account = MetaAccount(
        workspace=workspace, inbox=inbox, platform=platform, external_id=external_id.strip()
    )
    account.app_secret = app_secret.strip()
    account.verify_token = verify_token.strip()
    account.access_token = access_token.strip()
    account.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="meta.account.create",
        object_type="meta_account",
        object_id=account.pk,
        changes={"platform": platform, "external_id": account.external_id},
    )
    return account


def credentials_rotate() -> int:
    """Re-encrypt every stored Meta credential under the current SECRET_KEY (see crypto.py)."""
    count = 0
    fields = ["app_secret_encrypted", "verify_token_encrypted", "access_token_encrypted"]
    for account in MetaAccount.objects.iterator():
        for name in fields:
            setattr(account, name, reencrypt(getattr(account, name)))
        account.save(update_fields=[*fields, "updated_at"])
        count += 1
    return count


# --- Webhook checks -------------------------------------------------------------------------


def verify_handshake(*, account: MetaAccount, mode: str, token: str, challenge: str) -> str:
    """Meta's subscription check: the challenge to echo when mode is "subscribe" and the
    verify token matches; Forbidden otherwise."""
    if mode != "subscribe" or not challenge:
        raise Forbidden("Expected hub.mode=subscribe with a hub.challenge.")
    if not hmac.compare_digest(token.encode(), account.verify_token.encode()):
        raise Forbidden("The hub.verify_token does not match this account's.")
    return challenge


def signature_valid(*, account: MetaAccount, body: bytes, header: str) -> bool:
    """X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body with the app secret."""
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(account.app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


# --- Inbound --------------------------------------------------------------------------------


@dataclass
class WebhookResult:
    received: int = 0
    duplicates: int = 0
    statuses: int = 0


def _customer(account: MetaAccount, sender: str, name: str, actor: Actor) -> Customer:
    if account.platform == MetaAccount.Platform.WHATSAPP:
        return twilio_services.customer_for_phone(
            workspace=account.workspace,
            number="+" + sender.lstrip("+"),
            whatsapp=True,
            actor=actor,
            name=name,
        )
    customer, _ = customer_services.customer_get_or_create_by_identity(
        workspace=account.workspace,
        kind=IDENTITY_KINDS[account.platform],
        value=sender,
        actor=actor,
        name=name,
    )
    return customer


def _text_and_metadata(account: MetaAccount, item: parse.Inbound) -> tuple[str, dict[str, object]]:
    lines = [item.text.strip()] if item.text.strip() else []
    metadata: dict[str, object] = {"channel": account.platform}
    if item.media:
        metadata["media"] = [{k: v for k, v in vars(m).items() if v} for m in item.media]
        for m in item.media:
            label = m.mime_type or m.kind
            where = m.url or (f"{m.filename} " if m.filename else "") + f"(media id {m.media_id})"
            lines.append(f"[{label}] {where}".strip())
    if item.location is not None:
        loc = item.location
        metadata["location"] = loc
        label = str(loc.get("name") or loc.get("address") or "")
        lines.append(
            twilio_services.location_text(float(loc["latitude"]), float(loc["longitude"]), label)
        )
    if item.reaction is not None:
        metadata["reaction"] = item.reaction
        with translation.override(account.workspace.default_locale or "en"):
            lines.append(
                gettext("Reacted %(emoji)s") % {"emoji": item.reaction["emoji"]}
                if item.reaction["emoji"]
                else gettext("Removed a reaction")
            )
    if item.reply is not None:
        metadata["reply"] = item.reply
    return "\n".join(lines), metadata


def inbound_receive(*, account: MetaAccount, item: parse.Inbound) -> bool:
    """Store one customer message. Idempotent by the provider id (wamid / mid): a redelivery
    writes nothing and returns False."""
    inbox = account.inbox
    if Message.objects.filter(
        workspace_id=account.workspace_id, inbox=inbox, provider_id=item.provider_id
    ).exists():
        return False
    if not inbox.is_active:
        raise Conflict("This inbox is disabled and takes no new messages.")
    try:
        customer = _customer(account, item.sender, item.name, Actor.system("meta"))
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field_errors={"sender": [exc.message]}) from None
    text, metadata = _text_and_metadata(account, item)
    now = timezone.now()
    result = inbox_services.message_receive(
        inbox=inbox,
        customer=customer,
        text=text,
        provider_id=item.provider_id,
        occurred_at=min(item.timestamp, now) if item.timestamp else None,
        metadata=metadata,
    )
    return not result.duplicate


def _read_up_to(account: MetaAccount, read: parse.Read) -> int:
    kind = IDENTITY_KINDS.get(account.platform)
    identity = Identity.objects.filter(
        workspace_id=account.workspace_id, kind=kind, value=read.sender
    ).first()
    if identity is None:
        return 0
    provider_ids = Message.objects.filter(
        workspace_id=account.workspace_id,
        inbox=account.inbox,
        conversation__customer_id=identity.customer_id,
        kind__in=(Message.Kind.OUTBOUND, Message.Kind.BOT),
        delivery_status__in=(Message.Delivery.SENT, Message.Delivery.DELIVERED),
        provider_id__isnull=False,
        created_at__lte=read.watermark,
    ).values_list("provider_id", flat=True)
    count = 0
    for provider_id in [p for p in provider_ids if p]:
        inbox_services.message_delivery_update(
            inbox=account.inbox, provider_id=provider_id, status=Message.Delivery.READ
        )
        count += 1
    return count


def webhook_apply(*, account: MetaAccount, batch: parse.Batch) -> WebhookResult:
    """Apply one webhook delivery: messages, delivery statuses (by provider id; states only move
    forward) and Messenger read watermarks. A body for another platform than the account's is
    refused (ValidationFailed)."""
    if batch.platform != account.platform:
        raise ValidationFailed(
            f"This account is {account.platform}; the webhook is for {batch.platform}.",
            field_errors={"object": ["Does not match the account's platform."]},
        )
    result = WebhookResult()
    for item in batch.messages:
        if inbound_receive(account=account, item=item):
            result.received += 1
        else:
            result.duplicates += 1
    for status in batch.statuses:
        updated = inbox_services.message_delivery_update(
            inbox=account.inbox,
            provider_id=status.provider_id,
            status=status.status,
            error=status.error,
        )
        result.statuses += updated is not None
    for read in batch.reads:
        result.statuses += _read_up_to(account, read)
    return result


# --- WhatsApp: the 24-hour window and templates ---------------------------------------------


def last_customer_message_at(*, conversation: Conversation) -> dt.datetime | None:
    latest: dt.datetime | None = Message.objects.filter(
        workspace_id=conversation.workspace_id,
        inbox_id=conversation.inbox_id,
        author_customer_id=conversation.customer_id,
        kind=Message.Kind.INBOUND,
    ).aggregate(latest=Max("created_at"))["latest"]
    return latest


def whatsapp_window_open(*, conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """Whether a free-form reply may be sent: the customer wrote in this inbox within 24 h."""
    latest = last_customer_message_at(conversation=conversation)
    return latest is not None and (now or timezone.now()) - latest <= WHATSAPP_WINDOW


WINDOW_CLOSED = (
    "WhatsApp's 24-hour customer-care window is closed: the customer last wrote more than 24 "
    "hours ago (or never). Only an approved message template can be sent now."
)


def template_create(
    *,
    account: MetaAccount,
    name: str,
    language: str,
    body: str,
    variables: list[str],
    actor: Actor,
) -> WhatsAppTemplate:
    """Record a template WhatsApp approved. `body` numbers its variables {{1}}..{{n}};
    `variables` names them in that order."""
    errors: dict[str, list[str]] = {}
    if account.platform != MetaAccount.Platform.WHATSAPP:
        errors["account"] = ["Templates are for WhatsApp accounts."]
    if not re.fullmatch(r"[a-z0-9_]{1,512}", name):
        errors["name"] = ["Lower-case letters, digits and underscores, as in WhatsApp Manager."]
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
        errors["language"] = ["A WhatsApp language code such as en, it or en_US."]
    numbers = sorted({int(n) for n in PLACEHOLDER.findall(body)})
    if numbers != list(range(1, len(variables) + 1)):
        errors["variables"] = [
            f"The text uses {len(numbers)} numbered variables; name each of {{{{1}}}}.. in order."
        ]
    if len(set(variables)) != len(variables) or not all(v.strip() for v in variables):
        errors["variables"] = ["Variable names are non-empty and distinct."]
    if errors:
        raise ValidationFailed("The template is not valid.", field_errors=errors)
    template, _ = WhatsAppTemplate.objects.update_or_create(
        account=account,
        name=name,
        language=language,
        defaults={"workspace_id": account.workspace_id, "body": body, "variables": variables},
    )
    audit_record(
        workspace=account.workspace,
        actor=actor,
        action="meta.template.save",
        object_type="whatsapp_template",
        object_id=template.pk,
        changes={"name": name, "language": language},
    )
    return template


def template_send(
    *,
    conversation: Conversation,
    template: WhatsAppTemplate,
    values: dict[str, str],
    author: User,
    actor: Actor,
) -> Message:
    """Send an approved template in a WhatsApp conversation, inside or outside the 24-hour
    window. Every variable needs a value (ValidationFailed names the missing or unknown)."""
    account = MetaAccount.objects.filter(inbox_id=conversation.inbox_id).first()
    if account is None or template.account_id != account.pk:
        raise ValidationFailed(
            "This template belongs to another WhatsApp account than the conversation's.",
            field_errors={"template": ["Not a template of this conversation's account."]},
        )
    errors = {
        f"values.{name}": ["Required."]
        for name in template.variables
        if not str(values.get(name, "")).strip()
    }
    errors |= {
        f"values.{k}": ["Not a variable of this template."]
        for k in values
        if k not in template.variables
    }
    if errors:
        raise ValidationFailed("The template's variables are not filled in.", field_errors=errors)
    ordered = [str(values[name]).strip() for name in template.variables]
    text = PLACEHOLDER.sub(lambda m: ordered[int(m.group(1)) - 1], template.body)
    message = inbox_services.message_send(
        conversation=conversation, author=author, actor=actor, text=text or template.name
    )
    message.metadata = {
        "whatsapp_template": {
            "name": template.name,
            "language": template.language,
            "parameters": ordered,
        }
    }
    message.save(update_fields=["metadata", "updated_at"])
    return message


# --- Replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def _recipient(account: MetaAccount, customer: Customer) -> str:
    identities = {i.kind: i.value for i in customer.identities.all()}
    if account.platform == MetaAccount.Platform.WHATSAPP:
        number = identities.get(Identity.Kind.WHATSAPP) or identities.get(Identity.Kind.PHONE)
        if number:
            return number.lstrip("+")
    elif identities.get(IDENTITY_KINDS[account.platform]):
        return identities[IDENTITY_KINDS[account.platform]]
    raise ValidationFailed(f"The customer has no {account.platform} id to reply to.")


def send_request(
    *, account: MetaAccount, message: Message, now: dt.datetime | None = None
) -> SendRequest:
    """The Graph API request that sends `message`. ValidationFailed when it may not be sent:
    a free-form WhatsApp reply outside the 24-hour window, a customer without an id."""
    to = _recipient(account, message.conversation.customer)
    payload: dict[str, object]
    if account.platform == MetaAccount.Platform.WHATSAPP:
        template = message.metadata.get("whatsapp_template") if message.metadata else None
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        if isinstance(template, dict):
            parameters = [{"type": "text", "text": p} for p in template.get("parameters", [])]
            payload["type"] = "template"
            payload["template"] = {
                "name": template["name"],
                "language": {"code": template["language"]},
                "components": [{"type": "body", "parameters": parameters}] if parameters else [],
            }
        else:
            if not whatsapp_window_open(conversation=message.conversation, now=now):
                raise ValidationFailed(WINDOW_CLOSED)
            payload["type"] = "text"
            payload["text"] = {"body": message.text, "preview_url": False}
    else:
        payload = {
            "recipient": {"id": to},
            "messaging_type": "RESPONSE",
            "message": {"text": message.text},
        }
    return SendRequest(
        url=f"{graph_base()}/{account.external_id}/messages",
        body=json.dumps(payload, ensure_ascii=False).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {account.access_token}",
        },
    )


def provider_id_of(data: dict[str, object]) -> str | None:
    """The id the Graph API gave the sent message: messages[0].id (WhatsApp) or message_id."""
    messages = data.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        value = messages[0].get("id")
        return value if isinstance(value, str) and value else None
    value = data.get("message_id")
    return value if isinstance(value, str) and value else None


def describe_error(data: dict[str, object]) -> str:
    """Graph's error body ({"error": {"message", "code"}}) as a sentence."""
    error = data.get("error")
    if not isinstance(error, dict):
        return ""
    code = error.get("code")
    return f"{error.get('message') or 'error'}" + (f" (code {code})" if code else "")
