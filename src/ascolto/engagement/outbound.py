"""The one way a proactive message leaves: into the customer's active conversation in the inbox
(or a new pending one) through `inbox.services.message_send`, on the customer's timeline.

Rule sends and campaign sends both call `proactive_message_send`, so connectors deliver them alike
and a customer's reply threads where the message is.
"""

from __future__ import annotations

from typing import Any

from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.customers.models import Activity, Customer
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Conversation, ConversationEvent, Inbox, Message

PROACTIVE_REASON = "proactive message"


def conversation_for_outbound(*, inbox: Inbox, customer: Customer, subject: str) -> Conversation:
    """The customer's active conversation in the inbox, else a new one, so that the reply to a
    proactive message threads where the message is."""
    active = (
        Conversation.objects.filter(
            inbox=inbox,
            customer=customer,
            merged_into__isnull=True,
            status__in=[Conversation.Status.OPEN, Conversation.Status.PENDING],
        )
        .order_by("-last_message_at", "-id")
        .first()
    )
    if active is not None:
        return active
    conversation = Conversation.objects.create(
        workspace_id=inbox.workspace_id,
        inbox=inbox,
        channel=inbox.channel,
        customer=customer,
        subject=subject[:300],
        language=customer.locale,
        team=inbox.team,
        # Waiting on the customer, not on an agent, until they answer.
        status=Conversation.Status.PENDING,
    )
    ConversationEvent.objects.create(
        workspace_id=inbox.workspace_id,
        conversation=conversation,
        kind=ConversationEvent.Kind.CREATED,
        to_value=Conversation.Status.PENDING,
        reason=PROACTIVE_REASON,
    )
    return conversation


def proactive_message_send(
    *,
    inbox: Inbox,
    customer: Customer,
    author: Any,
    actor: Actor,
    subject: str,
    text: str,
    html: str,
    metadata: dict[str, Any],
    activity_title: str,
    activity_data: dict[str, Any],
    source_type: str,
    source_id: str,
) -> Message:
    """Send one proactive message and record it on the customer's timeline. The caller owns the
    transaction; the connector delivers on commit."""
    conversation = conversation_for_outbound(inbox=inbox, customer=customer, subject=subject)
    message = inbox_services.message_send(
        conversation=conversation,
        author=author,
        actor=actor,
        text=text,
        html=html if inbox.channel == Channel.EMAIL else "",
        kind="bot",
    )
    message.metadata = metadata
    message.save(update_fields=["metadata", "updated_at"])
    customer_services.activity_record(
        customer=customer,
        kind=Activity.Kind.MESSAGE,
        title=activity_title,
        body=text[:500],
        data={"conversation_id": conversation.pk, "message_id": message.pk, **activity_data},
        source_type=source_type,
        source_id=source_id,
    )
    return message
