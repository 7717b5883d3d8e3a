"""What campaigns and rules achieve, counted in SQL (definitions in docs/engagement.md).

Campaign (treated = recipients sent the message, reference time = their `sent_at`; hold-out =
recipients held out, reference time = the campaign's start):
- delivered: the message's delivery state is delivered or read; read: read; delivery failed:
  failed (from the inbox's delivery reports);
- replied: a customer message in the message's conversation after the send;
- converted: an order placed by the customer within `conversion_window_days` after the
  reference time; the conversion rate is converted / group size, uplift the treated rate minus
  the hold-out rate (percentage points).
Rule (reference time = the event's time for both groups, so deferred sends compare fairly):
sent, delivered, replied and converted as above, and contacts: a conversation the customer
started (not one a proactive message opened) within the window, treated vs hold-out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.expressions import CombinedExpression

from ascolto.customers.models import Order
from ascolto.engagement import holdout, outbound
from ascolto.engagement.models import Campaign, CampaignRecipient, Rule, Send
from ascolto.inbox.models import Conversation, ConversationEvent, Message


def _plus(field: str, days: int) -> ExpressionWrapper[CombinedExpression]:
    return ExpressionWrapper(
        OuterRef(field) + dt.timedelta(days=days), output_field=DateTimeField()
    )


def _converted(reference: str, days: int) -> Exists:
    return Exists(
        Order.objects.filter(
            customer_id=OuterRef("customer_id"),
            placed_at__gt=OuterRef(reference),
            placed_at__lte=_plus(reference, days),
        )
    )


def _replied() -> Exists:
    return Exists(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            kind=Message.Kind.INBOUND,
            created_at__gt=OuterRef("sent_at"),
        )
    )


def _delivery(states: Sequence[str]) -> Exists:
    return Exists(Message.objects.filter(pk=OuterRef("message_id"), delivery_status__in=states))


def _contacted(reference: str, days: int) -> Exists:
    """A conversation the customer started in the window (proactive ones excluded)."""
    proactive = ConversationEvent.objects.filter(
        conversation_id=OuterRef("pk"),
        kind=ConversationEvent.Kind.CREATED,
        reason=outbound.PROACTIVE_REASON,
    )
    return Exists(
        Conversation.objects.filter(
            customer_id=OuterRef("customer_id"),
            created_at__gt=OuterRef(reference),
            created_at__lte=_plus(reference, days),
        ).exclude(Exists(proactive))
    )


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _uplift(treated: float | None, control: float | None) -> float | None:
    if treated is None or control is None:
        return None
    return round(treated - control, 2)


def _sent_figures(rows: QuerySet[Any], reference: str, days: int) -> dict[str, int]:
    delivered_states = [Message.Delivery.DELIVERED, Message.Delivery.READ]
    figures: dict[str, int] = rows.annotate(
        is_delivered=_delivery(delivered_states),
        is_read=_delivery([Message.Delivery.READ]),
        is_failed=_delivery([Message.Delivery.FAILED]),
        has_reply=_replied(),
        has_order=_converted(reference, days),
    ).aggregate(
        sent=Count("pk"),
        delivered=Count("pk", filter=Q(is_delivered=True)),
        read=Count("pk", filter=Q(is_read=True)),
        delivery_failed=Count("pk", filter=Q(is_failed=True)),
        replied=Count("pk", filter=Q(has_reply=True)),
        converted=Count("pk", filter=Q(has_order=True)),
    )
    return figures


def campaign_report(*, campaign: Campaign) -> dict[str, Any]:
    days = campaign.conversion_window_days
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    by_status = dict(
        recipients.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    sent = _sent_figures(
        recipients.filter(status=CampaignRecipient.Status.SENT, sent_at__isnull=False),
        "sent_at",
        days,
    )
    held = recipients.filter(status=CampaignRecipient.Status.HELD_OUT)
    held_out = held.count()
    held_converted = 0
    if campaign.started_at is not None and held_out:
        held_converted = (
            held.annotate(started=F("campaign__started_at"))
            .filter(_converted("started", days))
            .count()
        )
    rate = _rate(sent["converted"], sent["sent"])
    holdout_rate = _rate(held_converted, held_out)
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "targeted": sum(by_status.values()),
        "held_out": held_out,
        "pending": by_status.get(CampaignRecipient.Status.PENDING, 0),
        "skipped": by_status.get(CampaignRecipient.Status.SKIPPED, 0),
        "failed": by_status.get(CampaignRecipient.Status.FAILED, 0),
        **sent,
        "conversion_window_days": days,
        "conversion_rate": rate,
        "holdout_converted": held_converted,
        "holdout_conversion_rate": holdout_rate,
        "uplift": _uplift(rate, holdout_rate),
    }


def rule_metrics(*, rule: Rule, days: int = 7) -> dict[str, Any]:
    sends = Send.objects.filter(rule=rule).annotate(occurred=F("event__occurred_at"))
    treated = sends.filter(status=Send.Status.SENT, message_id__isnull=False)
    figures = _sent_figures(treated, "occurred", days)
    treated_contacts = treated.filter(_contacted("occurred", days)).count()
    held = sends.filter(status=Send.Status.SKIPPED, reason=holdout.HELD_OUT_REASON)
    held_out = held.count()
    held_converted = held.filter(_converted("occurred", days)).count() if held_out else 0
    held_contacts = held.filter(_contacted("occurred", days)).count() if held_out else 0
    rate = _rate(figures["converted"], figures["sent"])
    holdout_rate = _rate(held_converted, held_out)
    contact_rate = _rate(treated_contacts, figures["sent"])
    holdout_contact_rate = _rate(held_contacts, held_out)
    return {
        "rule_id": rule.pk,
        "holdout_percent": rule.holdout_percent,
        "window_days": days,
        **figures,
        "skipped": sends.filter(status=Send.Status.SKIPPED)
        .exclude(reason=holdout.HELD_OUT_REASON)
        .count(),
        "failed": sends.filter(status=Send.Status.FAILED).count(),
        "held_out": held_out,
        "conversion_rate": rate,
        "holdout_converted": held_converted,
        "holdout_conversion_rate": holdout_rate,
        "uplift": _uplift(rate, holdout_rate),
        "contacts": treated_contacts,
        "contact_rate": contact_rate,
        "holdout_contacts": held_contacts,
        "holdout_contact_rate": holdout_contact_rate,
        "contact_rate_difference": _uplift(contact_rate, holdout_contact_rate),
    }
