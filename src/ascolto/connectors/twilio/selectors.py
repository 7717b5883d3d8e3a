"""Reads of the Twilio connector. Every read is scoped by workspace or by the account."""

from __future__ import annotations

from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.inbox.models import Channel, Message


def account_for_webhook(*, account_id: int) -> TwilioAccount | None:
    """The account a webhook URL names (its signature is checked next), if active."""
    return (
        TwilioAccount.objects.select_related("inbox", "workspace")
        .filter(pk=account_id, is_active=True)
        .first()
    )


def reply_for_delivery(*, message_id: int) -> Message | None:
    """A reply in a Twilio inbox that still waits to be sent, with what sending it reads."""
    return (
        Message.objects.select_related("inbox__twilio_account", "conversation__customer")
        .prefetch_related("conversation__customer__identities")
        .filter(
            pk=message_id,
            inbox__channel__in=(Channel.SMS, Channel.WHATSAPP),
            inbox__twilio_account__isnull=False,
            kind__in=(Message.Kind.OUTBOUND, Message.Kind.BOT),
            delivery_status=Message.Delivery.QUEUED,
        )
        .first()
    )
