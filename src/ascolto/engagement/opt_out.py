"""Opting out: STOP keywords in inbound messages revoke marketing consent on that channel."""

from __future__ import annotations

from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.customers.models import ConsentPurpose, Customer
from ascolto.engagement import guards

STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "basta", "הסר"})


def is_stop_keyword(text: str) -> bool:
    return text.strip().strip(".!").casefold() in STOP_WORDS


def marketing_opt_out(*, customer: Customer, channel: str, source: str, actor: Actor) -> None:
    """Revoke marketing consent on the channel at once (STOP keyword, unsubscribe link)."""
    customer_services.consent_set(
        customer=customer,
        purpose=ConsentPurpose.MARKETING,
        channel=guards.CONSENT_CHANNEL.get(channel, channel),
        granted=False,
        actor=actor,
        source=source,
    )
