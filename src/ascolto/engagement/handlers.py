"""Outbox handlers of engagement (GUIDE §3: idempotent, at least once).

engagement.event.received: run the rules (a rule runs once per event: Send's constraint).
inbox.message.received: a STOP keyword revokes marketing consent on that channel at once.
"""

from __future__ import annotations

from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles
from ascolto.engagement import services
from ascolto.engagement.models import Event
from ascolto.inbox.models import Message

ACTOR = Actor.system("engagement")


@handles("engagement.event.received")
def run_rules(outbox_event: OutboxEvent) -> None:
    event = (
        Event.objects.select_related("customer", "customer__workspace", "order")
        .filter(workspace_id=outbox_event.workspace_id, pk=outbox_event.payload.get("event_id"))
        .first()
    )
    if event is not None:
        services.event_process(event=event, actor=ACTOR)


@handles("inbox.message.received")
def honour_stop_keyword(outbox_event: OutboxEvent) -> None:
    message = (
        Message.objects.select_related("author_customer", "inbox")
        .filter(workspace_id=outbox_event.workspace_id, pk=outbox_event.payload.get("message_id"))
        .first()
    )
    if message is None or message.author_customer is None:
        return
    if services.is_stop_keyword(message.text):
        services.marketing_opt_out(
            customer=message.author_customer,
            channel=message.inbox.channel,
            source=f"STOP keyword (message #{message.pk})",
            actor=ACTOR,
        )
