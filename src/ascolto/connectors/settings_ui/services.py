"""Writes of the channel settings pages: creating a channel goes through its connector's own
service; changing one sets its fields here (secrets only when a new value is given, always
encrypted by the models' EncryptedAttribute); a check's outcome is recorded per inbox.

Callers own the transaction. Audit rows never carry a secret."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.connectors.api_channel import services as api_services
from ascolto.connectors.email import services as email_services
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta import services as meta_services
from ascolto.connectors.meta.models import MetaAccount
from ascolto.connectors.settings_ui.models import AutoReplySettings, ChannelCheck
from ascolto.connectors.twilio import services as twilio_services
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.customers.normalize import normalize_phone
from ascolto.inbox.models import BusinessHours, Inbox

MAILBOX_FIELDS = (
    "imap_enabled",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_user",
    "imap_folder",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_user",
)


def _rename(inbox: Inbox, name: str) -> None:
    if name and inbox.name != name:
        inbox.name = name
        inbox.save(update_fields=["name", "updated_at"])


def _audit(
    workspace: Workspace, actor: Actor, action: str, inbox: Inbox, changed: list[str]
) -> None:
    audit_record(
        workspace=workspace,
        actor=actor,
        action=action,
        object_type="inbox",
        object_id=inbox.pk,
        changes={"fields": sorted(changed)},
    )


def mailbox_save(
    *, workspace: Workspace, actor: Actor, mailbox: Mailbox | None, data: dict[str, Any]
) -> Mailbox:
    """Create a mailbox (and its inbox) or change one; a blank password keeps the stored one."""
    fields = {key: data[key] for key in MAILBOX_FIELDS}
    if mailbox is None:
        return email_services.mailbox_create(
            workspace=workspace,
            name=data["name"],
            address=data["address"],
            display_name=data.get("display_name", ""),
            actor=actor,
            imap_password=data.get("imap_password", ""),
            smtp_password=data.get("smtp_password", ""),
            **fields,
        )
    address = str(data["address"]).strip().lower()
    taken = (
        Mailbox.objects.filter(workspace=workspace, address=address).exclude(pk=mailbox.pk).exists()
    )
    if taken:
        raise ValidationFailed(
            _("This workspace already has a mailbox with this address."),
            field_errors={"address": [_("Already used.")]},
        )
    mailbox.address = address
    mailbox.display_name = data.get("display_name", "")
    for key, value in fields.items():
        setattr(mailbox, key, value)
    changed = ["address", "display_name", *fields]
    for secret in ("imap_password", "smtp_password"):
        if data.get(secret):
            setattr(mailbox, secret, data[secret])
            changed.append(secret)
    mailbox.save()
    _rename(mailbox.inbox, data["name"])
    _audit(workspace, actor, "email.mailbox.update", mailbox.inbox, changed)
    return mailbox


def twilio_save(
    *, workspace: Workspace, actor: Actor, account: TwilioAccount | None, data: dict[str, Any]
) -> TwilioAccount:
    """Create a Twilio account (and its SMS or WhatsApp inbox) or change one. An edit cannot
    turn an SMS inbox into a WhatsApp one or back: that is a new inbox."""
    if account is None:
        return twilio_services.twilio_account_create(
            workspace=workspace,
            name=data["name"],
            account_sid=data["account_sid"],
            auth_token=data["auth_token"],
            from_number=data["from_number"],
            actor=actor,
        )
    errors: dict[str, list[str]] = {}
    sid = str(data["account_sid"]).strip()
    if not sid.startswith("AC"):
        errors["account_sid"] = [_("A Twilio account SID starts with AC.")]
    raw_number = str(data["from_number"]).strip()
    whatsapp = raw_number.startswith("whatsapp:")
    number = ""
    try:
        number = normalize_phone(raw_number)
    except ValidationFailed:
        errors["from_number"] = [_("An international number, e.g. +39 06 1234 5678.")]
    if whatsapp != account.is_whatsapp:
        errors["from_number"] = [
            _("An SMS inbox stays SMS and a WhatsApp inbox stays WhatsApp; add a new channel.")
        ]
    if errors:
        raise ValidationFailed(_("The Twilio account is not valid."), field_errors=errors)
    account.account_sid = sid
    account.from_number = f"whatsapp:{number}" if whatsapp else number
    changed = ["account_sid", "from_number"]
    if data.get("auth_token"):
        account.auth_token = data["auth_token"]
        changed.append("auth_token")
    account.save()
    _rename(account.inbox, data["name"])
    _audit(workspace, actor, "twilio.account.update", account.inbox, changed)
    return account


def meta_save(
    *, workspace: Workspace, actor: Actor, account: MetaAccount | None, data: dict[str, Any]
) -> MetaAccount:
    """Create a Meta account (and its inbox) or change one; the platform of an existing
    account does not change."""
    if account is None:
        return meta_services.meta_account_create(
            workspace=workspace,
            name=data["name"],
            platform=data["platform"],
            external_id=data["external_id"],
            app_secret=data["app_secret"],
            verify_token=data["verify_token"],
            access_token=data["access_token"],
            actor=actor,
        )
    external_id = str(data["external_id"]).strip()
    if not external_id.isdigit():
        raise ValidationFailed(
            _("The Meta account is not valid."),
            field_errors={"external_id": [_("The numeric phone-number or page id Meta shows.")]},
        )
    account.external_id = external_id
    changed = ["external_id"]
    for secret in ("app_secret", "verify_token", "access_token"):
        if data.get(secret):
            setattr(account, secret, data[secret])
            changed.append(secret)
    account.save()
    _rename(account.inbox, data["name"])
    _audit(workspace, actor, "meta.account.update", account.inbox, changed)
    return account


def api_channel_save(
    *, workspace: Workspace, actor: Actor, inbox: Inbox | None, data: dict[str, Any]
) -> tuple[Inbox, str | None]:
    """Create an API channel or change its name and webhook URL. Returns the inbox and, when
    one was generated, the webhook signing secret (shown once)."""
    if inbox is None:
        return api_services.api_inbox_create(
            workspace=workspace, name=data["name"], actor=actor, webhook_url=data["webhook_url"]
        )
    secret = api_services.webhook_configure(
        inbox=inbox, actor=actor, webhook_url=data["webhook_url"]
    )
    _rename(inbox, data["name"])
    return inbox, secret


def check_record(*, inbox: Inbox, ok: bool, detail: str) -> ChannelCheck:
    """Keep the outcome of a channel test; a failure also becomes the channel's last error."""
    now = timezone.now()
    check, _created = ChannelCheck.objects.get_or_create(
        inbox=inbox, defaults={"workspace_id": inbox.workspace_id}
    )
    check.ok = ok
    check.detail = detail
    check.checked_at = now
    if not ok:
        check.last_error = detail
        check.last_error_at = now
    check.save()
    return check


def auto_reply_configure(
    *,
    inbox: Inbox,
    actor: Actor,
    business_hours_id: int | None,
    away_texts: dict[str, str],
    acknowledge: bool,
    acknowledgement_texts: dict[str, str],
    suggest_articles: bool = True,
) -> AutoReplySettings:
    """Set an inbox's business hours and automatic texts ({language: text}; blanks dropped).
    The business hours must belong to the inbox's workspace."""
    hours = None
    if business_hours_id is not None:
        hours = BusinessHours.objects.filter(
            workspace_id=inbox.workspace_id, pk=business_hours_id
        ).first()
        if hours is None:
            raise ValidationFailed(
                _("No such business hours in this workspace."),
                field_errors={"business_hours": [_("Unknown.")]},
            )
    settings, _created = AutoReplySettings.objects.get_or_create(
        inbox=inbox, defaults={"workspace_id": inbox.workspace_id}
    )
    settings.business_hours = hours
    settings.away_texts = {k: v.strip() for k, v in away_texts.items() if v.strip()}
    settings.acknowledge = acknowledge
    settings.acknowledgement_texts = {
        k: v.strip() for k, v in acknowledgement_texts.items() if v.strip()
    }
    settings.suggest_articles = suggest_articles
    settings.save()
    _audit(inbox.workspace, actor, "inbox.auto_reply.update", inbox, ["auto_reply"])
    return settings
