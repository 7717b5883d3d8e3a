"""Reads of the Meta connector. Every read is scoped by workspace or by the account."""

from __future__ import annotations

from ascolto.connectors.meta.models import MetaAccount, WhatsAppTemplate
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.inbox.models import Message


def account_for_webhook(*, account_id: int) -> MetaAccount | None:
    """The account a webhook URL names (its signature or verify token is checked next)."""
    return (
        MetaAccount.objects.select_related("inbox", "workspace")
        .filter(pk=account_id, is_active=True)
        .first()
    )


def template_get(*, workspace: Workspace, template_id: int) -> WhatsAppTemplate:
    template = (
        WhatsAppTemplate.objects.select_related("account")
        .filter(workspace=workspace, pk=template_id)
        .first()
    )
    if template is None:
        raise NotFound(f"No WhatsApp template #{template_id} in this workspace.")
    return template


def templates_of(*, workspace: Workspace) -> list[WhatsAppTemplate]:
    return list(
        WhatsAppTemplate.objects.select_related("account")
        .filter(workspace=workspace)
        .order_by("name", "language", "id")
    )


def reply_for_delivery(*, message_id: int) -> Message | None:
    """A reply in a Meta inbox that still waits to be sent, with what sending it reads."""
    return (
        Message.objects.select_related("inbox__meta_account", "conversation__customer")
        .prefetch_related("conversation__customer__identities")
        .filter(
            pk=message_id,
            inbox__meta_account__isnull=False,
            kind__in=(Message.Kind.OUTBOUND, Message.Kind.BOT),
            delivery_status=Message.Delivery.QUEUED,
        )
        .first()
    )
