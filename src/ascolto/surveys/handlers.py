"""Outbox handlers of the surveys: triggers that invite, and the closed loop after an answer.

Each is idempotent (delivery is at least once): invitations are unique per (survey, trigger
source), and a response has at most one follow-up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ascolto.analytics.experiments.services import experiment_payload
from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Order
from ascolto.inbox.models import Channel, Conversation, Message
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Response, Survey
from ascolto.surveys.services import chat, distribution

# An order reported delivered long after the fact (an import, a backfill) is not asked about.
ORDER_DELIVERED_MAX_AGE = dt.timedelta(days=14)


def _active(workspace_id: int, trigger: str) -> list[Survey]:
    return list(
        Survey.objects.filter(workspace_id=workspace_id, trigger=trigger, is_active=True)
        .select_related("workspace")
        .order_by("pk")
    )


def _id(event: OutboxEvent, key: str) -> int | None:
    value = event.payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@outbox.handles("inbox.conversation.resolved")
def on_conversation_resolved(event: OutboxEvent) -> None:
    """Schedule the surveys triggered by a resolved conversation, after each survey's delay,
    when the conversation's channel is one the survey listens to. A conversation resolved
    again after a reopen is not asked twice; follow-up cases themselves are never surveyed."""
    conversation_id = _id(event, "conversation_id")
    surveys = _active(event.workspace_id, Survey.Trigger.CONVERSATION_RESOLVED)
    if conversation_id is None or not surveys:
        return
    conversation = (
        Conversation.objects.select_related("customer", "customer__workspace", "assignee", "team")
        .filter(workspace_id=event.workspace_id, pk=conversation_id)
        .first()
    )
    if (
        conversation is None
        or services.is_followup_inbox(
            workspace_id=event.workspace_id, inbox_id=conversation.inbox_id
        )
        or distribution.answered_by_reply_in(conversation)
    ):
        return
    # In an SMS or WhatsApp conversation the survey is asked there, answered by reply.
    channel = (
        conversation.channel
        if conversation.channel in distribution.MESSAGE_CHANNELS
        else Invitation.Channel.EMAIL
    )
    now = timezone.now()
    variant: dict[str, Any] | None = None
    # A web chat's CSAT survey is asked in the widget as the chat ends (services/chat.py).
    in_chat = chat.chat_survey(conversation) if conversation.channel == Channel.WEBCHAT else None
    for survey in surveys:
        if survey.trigger_channels and conversation.channel not in survey.trigger_channels:
            continue
        if survey == in_chat:
            continue
        if variant is None:  # exposure: assigned once, when a survey is actually scheduled
            variant = (
                experiment_payload(
                    workspace_id=event.workspace_id,
                    lever="survey_delay",
                    conversation_id=conversation.pk,
                    customer_id=conversation.customer_id,
                )
                or {}
            )
        delay = variant.get("delay_minutes", survey.delay_minutes)
        services.invitation_create(
            survey=survey,
            customer=conversation.customer,
            source_key=f"conversation:{conversation.pk}",
            channel=channel,
            send_after=now + dt.timedelta(minutes=delay),
            conversation=conversation,
            agent=conversation.assignee,
            team=conversation.team,
            now=now,
        )


@outbox.handles("customers.order.updated")
def on_order_updated(event: OutboxEvent) -> None:
    """Schedule the order surveys when an order becomes delivered (not on other changes, and
    not for deliveries reported more than two weeks late)."""
    if event.payload.get("status") != "delivered" or event.payload.get("previous_status") == (
        "delivered"
    ):
        return
    order_id = _id(event, "order_id")
    surveys = _active(event.workspace_id, Survey.Trigger.ORDER_DELIVERED)
    if order_id is None or not surveys:
        return
    order = (
        Order.objects.select_related("customer", "customer__workspace")
        .filter(workspace_id=event.workspace_id, pk=order_id)
        .first()
    )
    now = timezone.now()
    if order is None or (
        order.delivered_at is not None and now - order.delivered_at > ORDER_DELIVERED_MAX_AGE
    ):
        return
    for survey in surveys:
        services.invitation_create(
            survey=survey,
            customer=order.customer,
            source_key=f"order:{order.pk}",
            send_after=now + dt.timedelta(minutes=survey.delay_minutes),
            order=order,
            now=now,
        )


@outbox.handles("surveys.response.submitted")
def on_response_submitted(event: OutboxEvent) -> None:
    """Score the comment and open a follow-up case for a poor answer."""
    response_id = _id(event, "response_id")
    if response_id is None:
        return
    response = (
        Response.objects.select_related("survey", "survey__workspace", "customer")
        .filter(workspace_id=event.workspace_id, pk=response_id)
        .first()
    )
    if response is not None:
        services.response_follow_up(response=response)


@outbox.handles_many("inbox.message.received")
def on_message_received(events: list[OutboxEvent]) -> None:
    """A customer's message in an SMS or WhatsApp inbox may answer their pending survey
    invitation (services/distribution.py). One query finds the batch's messages of those
    channels."""
    wanted = {(event.workspace_id, _id(event, "message_id")): event for event in events}
    messages = (
        Message.objects.select_related("conversation", "conversation__workspace")
        .filter(
            pk__in=[pk for _, pk in wanted if pk is not None],
            kind=Message.Kind.INBOUND,
            conversation__channel__in=distribution.MESSAGE_CHANNELS,
        )
        .order_by("pk")
    )
    for message in messages:
        event = wanted.get((message.workspace_id, message.pk))
        if event is None:
            continue  # an id of another workspace
        distribution.reply_handle(
            message=message,
            opened_conversation=bool(
                event.payload.get("conversation_created") or event.payload.get("reopened")
            ),
        )
