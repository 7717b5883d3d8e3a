"""Guard rails checked before every proactive send: consent, quiet hours, frequency caps.

Consent: a marketing message needs a grant for marketing on the channel (or on any channel)
and no revocation on the channel; a service message is allowed unless service messages were
revoked on that channel or on any channel. Quiet hours are in the customer's time zone: a send
that falls in them is deferred to their end, never dropped. The frequency cap counts the
messages sent to a customer by every rule and every campaign in the window.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.db.models import QuerySet
from django.utils import timezone

from ascolto.customers.models import Consent, ConsentChannel, ConsentPurpose, Customer
from ascolto.engagement.models import CampaignRecipient, EngagementSettings, Send
from ascolto.engagement.templates_render import customer_zone

# The inbox's channels as consent names them.
CONSENT_CHANNEL = {
    "email": ConsentChannel.EMAIL,
    "sms": ConsentChannel.SMS,
    "whatsapp": ConsentChannel.WHATSAPP,
    "messenger": ConsentChannel.MESSENGER,
    "instagram": ConsentChannel.MESSENGER,
    "voice": ConsentChannel.PHONE,
    "webchat": ConsentChannel.WEB,
    "api": ConsentChannel.ANY,
}


def settings_for(workspace_id: int) -> EngagementSettings:
    found, _ = EngagementSettings.objects.get_or_create(
        workspace_id=workspace_id, defaults={"webhook_secret": secrets.token_hex(32)}
    )
    return found


def consent_allows(*, customer: Customer, purpose: str, channel: str) -> bool:
    consent_channel = CONSENT_CHANNEL.get(channel, ConsentChannel.ANY)
    states = dict(
        Consent.objects.filter(
            customer=customer, purpose=purpose, channel__in=[consent_channel, ConsentChannel.ANY]
        ).values_list("channel", "granted")
    )
    specific = states.get(consent_channel)
    general = states.get(ConsentChannel.ANY)
    if specific is False or (consent_channel == ConsentChannel.ANY and general is False):
        return False
    if purpose == ConsentPurpose.SERVICE:
        return general is not False
    return specific is True or (general is True and specific is None)


def quiet_until(
    *, customer: Customer, config: EngagementSettings, at: dt.datetime | None = None
) -> dt.datetime | None:
    """The end of the quiet hours `at` falls in, in UTC, or None when sending is fine now."""
    at = at or timezone.now()
    start, end = config.quiet_start, config.quiet_end
    if start == end:
        return None
    zone = customer_zone(customer)
    local = at.astimezone(zone)
    clock = local.time()
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date()
    if start > end and clock >= start:
        day += dt.timedelta(days=1)
    resume = dt.datetime.combine(day, end, tzinfo=zone)
    return resume.astimezone(dt.UTC)


def sent_recently(
    customer: Customer, config: EngagementSettings, at: dt.datetime
) -> QuerySet[Send]:
    return Send.objects.filter(
        customer=customer,
        status=Send.Status.SENT,
        sent_at__gt=at - dt.timedelta(hours=config.cap_window_hours),
    )


def campaign_sent_recently(
    customer: Customer, config: EngagementSettings, at: dt.datetime
) -> QuerySet[CampaignRecipient]:
    return CampaignRecipient.objects.filter(
        customer=customer,
        status=CampaignRecipient.Status.SENT,
        sent_at__gt=at - dt.timedelta(hours=config.cap_window_hours),
    )


def over_cap(
    *, customer: Customer, config: EngagementSettings, at: dt.datetime | None = None
) -> bool:
    """Whether rules and campaigns together already sent the customer `cap_count` messages in
    the window."""
    at = at or timezone.now()
    sent = sent_recently(customer, config, at).count()
    if sent >= config.cap_count:
        return True
    return sent + campaign_sent_recently(customer, config, at).count() >= config.cap_count
