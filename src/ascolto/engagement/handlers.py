"""Outbox handlers of engagement (GUIDE §3: idempotent, at least once).

engagement.event.received: run the rules (a rule runs once per event: Send's constraint).
inbox.message.received: a STOP keyword revokes marketing consent on that channel at once; a
    message that started a conversation fires conversation.created rules.
inbox.conversation.resolved: conversation.resolved rules.
surveys.response.submitted: survey.answered rules, with the scores.
"""

from __future__ import annotations

from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.core.outbox import handles, handles_many
from ascolto.engagement import services, triggers
from ascolto.engagement.models import Event, EventType
from ascolto.inbox.models import Conversation, Message
from ascolto.surveys.models import Response as SurveyResponse

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


@handles_many("inbox.message.received")
def honour_stop_keyword(outbox_events: list[OutboxEvent]) -> None:
    by_workspace: dict[int, list[object]] = {}
    for outbox_event in outbox_events:
        by_workspace.setdefault(outbox_event.workspace_id, []).append(
            outbox_event.payload.get("message_id")
        )
    for workspace_id, message_ids in sorted(by_workspace.items()):
        ids = [pk for pk in message_ids if isinstance(pk, int)]
        # Only the texts are read for every message; the few that are a stop word in full.
        stops = [
            pk
            for pk, text in Message.objects.filter(
                workspace_id=workspace_id, pk__in=ids, author_customer__isnull=False
            ).values_list("pk", "text")
            if services.is_stop_keyword(text)
        ]
        for message in (
            Message.objects.select_related("author_customer", "inbox")
            .filter(workspace_id=workspace_id, pk__in=stops)
            .order_by("pk")
        ):
            if message.author_customer is not None:
                services.marketing_opt_out(
                    customer=message.author_customer,
                    channel=message.inbox.channel,
                    source=f"STOP keyword (message #{message.pk})",
                    actor=ACTOR,
                )


@handles_many("inbox.message.received")
def conversation_created(outbox_events: list[OutboxEvent]) -> None:
    """A customer's message that started a conversation fires conversation.created rules (the
    workspace's rules looked up once per batch)."""
    started = [e for e in outbox_events if e.payload.get("conversation_created")]
    with_rules = {
        workspace_id
        for workspace_id in {e.workspace_id for e in started}
        if triggers.has_rules(workspace_id, EventType.CONVERSATION_CREATED)
    }
    for outbox_event in started:
        if outbox_event.workspace_id in with_rules:
            _conversation_event(outbox_event, EventType.CONVERSATION_CREATED, suffix="")


@handles("inbox.conversation.resolved")
def conversation_resolved(outbox_event: OutboxEvent) -> None:
    """Each resolution fires conversation.resolved rules once (keyed by its outbox event)."""
    if triggers.has_rules(outbox_event.workspace_id, EventType.CONVERSATION_RESOLVED):
        _conversation_event(
            outbox_event, EventType.CONVERSATION_RESOLVED, suffix=f":{outbox_event.pk}"
        )


def _conversation_event(outbox_event: OutboxEvent, kind: str, *, suffix: str) -> None:
    conversation = (
        Conversation.objects.select_related("customer", "inbox")
        .filter(
            workspace_id=outbox_event.workspace_id,
            pk=outbox_event.payload.get("conversation_id"),
        )
        .first()
    )
    if conversation is None:
        return
    customer = conversation.customer.merged_into or conversation.customer
    triggers.record_and_run(
        customer=customer,
        type=kind,
        external_id=f"{kind}:{conversation.pk}{suffix}",
        payload={
            "conversation_id": conversation.pk,
            "inbox_id": conversation.inbox_id,
            "channel": conversation.channel,
            "subject": conversation.subject,
            "priority": conversation.priority,
            "reopen_count": conversation.reopen_count,
            "message_count": conversation.message_count,
            "team_id": conversation.team_id,
            "assignee_id": conversation.assignee_id,
        },
        actor=ACTOR,
    )


@handles("surveys.response.submitted")
def survey_answered(outbox_event: OutboxEvent) -> None:
    """A submitted survey answer fires survey.answered rules, its scores in the payload
    (`event.payload.nps`, `csat`, `ces`)."""
    if not triggers.has_rules(outbox_event.workspace_id, EventType.SURVEY_ANSWERED):
        return
    response = (
        SurveyResponse.objects.select_related("customer", "survey")
        .filter(workspace_id=outbox_event.workspace_id, pk=outbox_event.payload.get("response_id"))
        .first()
    )
    if response is None or response.customer is None:
        return
    customer = response.customer.merged_into or response.customer
    scores = {
        "nps": response.nps_score,
        "csat": response.csat_score,
        "ces": response.ces_score,
    }
    triggers.record_and_run(
        customer=customer,
        type=EventType.SURVEY_ANSWERED,
        external_id=f"survey.answered:{response.pk}",
        payload={
            "response_id": response.pk,
            "survey_id": response.survey_id,
            "survey": response.survey.name,
            "comment": response.comment[:1000],
            **{k: v for k, v in scores.items() if v is not None},
        },
        actor=ACTOR,
    )
