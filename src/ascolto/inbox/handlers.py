"""Outbox handlers of the inbox: SLA clocks and auto-assignment follow the write path.

Each handler is idempotent (delivery is at least once): the SLA clock is recomputed from the
conversation's history, and routing only touches conversations that are still unassigned.
Within one handler, routing runs before the SLA update because a routing pass locks agent
profiles before conversations (see routing.py); taking a conversation lock first could
deadlock against a concurrent pass.
"""

from __future__ import annotations

from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from ascolto.inbox import inbound, routing, sla
from ascolto.inbox.models import Conversation, Inbox, SLAPolicy

STATUS_EVENTS = tuple(f"inbox.conversation.{status}" for status in Conversation.Status.values)
# A status that takes the conversation off an agent's plate frees capacity for the queue.
FREEING_STATUSES = (Conversation.Status.RESOLVED, Conversation.Status.CLOSED)

# What `on_message_received` reads to decide on routing and the SLA clock (sla_sync locks and
# loads the conversation whole itself).
ROUTING_FIELDS = (
    "assignee_id",
    "status",
    "inbox__routing",
    "sla_policy_id",
    "sla_paused_at",
    "first_response_due_at",
    "next_response_due_at",
    "resolution_due_at",
)


def _conversation(event: OutboxEvent) -> Conversation | None:
    conversation_id = event.payload.get("conversation_id")
    if not isinstance(conversation_id, int):
        return None
    return (
        Conversation.objects.select_related("inbox")
        .filter(workspace_id=event.workspace_id, pk=conversation_id)
        .first()
    )


def _waits_for_routing(conversation: Conversation) -> bool:
    return (
        conversation.assignee_id is None
        and conversation.status == Conversation.Status.OPEN
        and conversation.inbox.routing != Inbox.Routing.MANUAL
    )


@outbox.handles_many("inbox.message.received")
def on_message_received(batch: list[OutboxEvent]) -> None:
    """Customers wrote: route the conversations nobody has (one routing pass per workspace, in
    queue order, so a new message never jumps a higher-tier customer already waiting), then
    update each conversation's SLA once, in id order (the lock order of SLA updates)."""
    wanted: dict[int, set[int]] = {}
    for event in batch:
        conversation_id = event.payload.get("conversation_id")
        if event.payload.get(inbound.NOT_A_REQUEST) or not isinstance(conversation_id, int):
            continue  # not a request (inbound.py): nothing to route, no clock to run
        wanted.setdefault(event.workspace_id, set()).add(conversation_id)
    for workspace_id in sorted(wanted):
        conversations = list(
            Conversation.objects.select_related("inbox")
            .filter(workspace_id=workspace_id, pk__in=wanted[workspace_id])
            .only(*ROUTING_FIELDS)
            .order_by("pk")
        )
        waiting = sum(1 for c in conversations if _waits_for_routing(c))
        if waiting:
            routing.route_waiting(workspace_id=workspace_id, limit=max(200, waiting))
        # Without an active policy in the workspace, a conversation without a clock keeps none
        # (what sla_sync would find, without locking each conversation to find it).
        policies = SLAPolicy.objects.filter(workspace_id=workspace_id, is_active=True).exists()
        for conversation in conversations:
            if policies or not _without_clock(conversation):
                sla.sla_sync(conversation=conversation)


def _without_clock(conversation: Conversation) -> bool:
    return conversation.sla_policy_id is None and all(
        value is None
        for value in (
            conversation.sla_paused_at,
            conversation.first_response_due_at,
            conversation.next_response_due_at,
            conversation.resolution_due_at,
        )
    )


@outbox.handles("inbox.message.sent")
def on_message_sent(event: OutboxEvent) -> None:
    """An agent replied: first or next response met."""
    conversation = _conversation(event)
    if conversation is not None:
        sla.sla_sync(conversation=conversation)


@outbox.handles(*STATUS_EVENTS)
def on_status_changed(event: OutboxEvent) -> None:
    """Pending, resolved and closed pause the clocks; open and snoozed run them. Resolving or
    closing frees the agent's capacity, and a reopened unassigned conversation waits again."""
    conversation = _conversation(event)
    if conversation is None:
        return
    if event.payload.get("to") in FREEING_STATUSES or _waits_for_routing(conversation):
        routing.route_waiting(workspace_id=event.workspace_id)
    sla.sla_sync(conversation=conversation)


@outbox.handles_many("inbox.conversation.assigned", "inbox.conversation.transferred")
def on_assignment_changed(batch: list[OutboxEvent]) -> None:
    """A transfer frees the previous agent's capacity; an unassignment puts the conversation
    back in the queue: one routing pass per workspace where either happened. Plain
    assignments (including routing's own) need nothing."""
    freed = {
        event.workspace_id
        for event in batch
        if event.name == "inbox.conversation.transferred" or event.payload.get("to") is None
    }
    for workspace_id in sorted(freed):
        routing.route_waiting(workspace_id=workspace_id)


@outbox.handles("inbox.agent.availability")
def on_availability_changed(event: OutboxEvent) -> None:
    """An agent came online: hand them waiting conversations, highest tier first."""
    if event.payload.get("to") == "online":
        routing.route_waiting(workspace_id=event.workspace_id)
