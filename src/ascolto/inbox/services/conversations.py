"""Conversation state changes: status, assignment and transfer, priority, tags, handling time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from ascolto.accounts.models import Membership, Team, User
from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.core.bulkinsert import insert_rows
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Activity
from ascolto.customers.services import activity_record
from ascolto.inbox import events
from ascolto.inbox.models import Conversation, ConversationEvent, HandlingInterval, Inbox, Tag

Status = Conversation.Status


def _event(conversation: Conversation, kind: str, actor: Actor, **fields: Any) -> ConversationEvent:
    """Record a history row now (`_event_row`'s fields)."""
    row = _event_row(conversation, kind, actor, **fields)
    row.save(force_insert=True)
    return row


def _event_row(
    conversation: Conversation,
    kind: str,
    actor: Actor,
    *,
    from_value: object = "",
    to_value: object = "",
    reason: str = "",
    data: dict[str, object] | None = None,
) -> ConversationEvent:
    return ConversationEvent(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        kind=kind,
        actor=actor.user,
        from_value=str(from_value or "")[:100],
        to_value=str(to_value or "")[:100],
        reason=reason[:300],
        data=data or {},
    )


def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def conversation_set_status(
    *,
    conversation: Conversation,
    status: str,
    actor: Actor,
    snoozed_until: dt.datetime | None = None,
    reason: str = "",
) -> Conversation:
    """Move a conversation to open, pending (waiting on the customer), snoozed (until a time),
    resolved or closed. Setting the status it already has is a no-op."""
    if status not in Status.values:
        raise ValidationFailed(
            f"Unknown status {status!r}.",
            field_errors={"status": [f"Choose one of: {', '.join(Status.values)}."]},
        )
    now = timezone.now()
    if status == Status.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        raise ValidationFailed(
            "Snoozing needs a time in the future.",
            field_errors={"snoozed_until": ["A future date and time."]},
        )
    conversation = _lock(conversation)
    previous = conversation.status
    if previous == status and status != Status.SNOOZED:
        return conversation
    conversation.status = status
    conversation.snoozed_until = snoozed_until if status == Status.SNOOZED else None
    if status == Status.RESOLVED:
        conversation.resolved_at = now
    elif status == Status.CLOSED:
        conversation.closed_at = now
        conversation.resolved_at = conversation.resolved_at or now
    elif previous in (Status.RESOLVED, Status.CLOSED):
        conversation.reopen_count += 1
        conversation.resolved_at = None
        conversation.closed_at = None
    conversation.save()
    kind = (
        ConversationEvent.Kind.REOPENED
        if previous in (Status.RESOLVED, Status.CLOSED) and status in (Status.OPEN, Status.PENDING)
        else ConversationEvent.Kind.STATUS
    )
    _event(
        conversation,
        kind,
        actor,
        from_value=previous,
        to_value=status,
        reason=reason,
        data={"snoozed_until": snoozed_until.isoformat()} if snoozed_until else None,
    )
    if status == Status.RESOLVED:
        activity_record(
            customer=conversation.customer,
            kind=Activity.Kind.CONVERSATION,
            title=f"Conversation resolved: {conversation.subject}",
            data={"conversation_id": conversation.pk, "channel": conversation.channel},
            actor=actor,
            source_type="conversation",
            source_id=str(conversation.pk),
        )
    outbox.emit(
        workspace=conversation.workspace,
        name=f"inbox.conversation.{status}",
        payload={"conversation_id": conversation.pk, "from": previous, "to": status},
    )
    events.publish_conversation(conversation, "inbox.conversation.updated")
    return conversation


def _is_member(workspace_id: int, user: User) -> bool:
    return Membership.objects.filter(workspace_id=workspace_id, user=user).exists()


def conversation_assign(
    *,
    conversation: Conversation,
    actor: Actor,
    assignee: User | None = None,
    team: Team | None = None,
    reason: str = "",
) -> Conversation:
    """Assign to an agent and/or a team (None unassigns). Moving from one agent to another is a
    transfer: counted, with its reason; past the workspace's bounce limit a supervisor is alerted.
    """
    if assignee is not None and not _is_member(conversation.workspace_id, assignee):
        raise ValidationFailed(
            "The assignee is not a member of this workspace.",
            field_errors={"assignee": ["Not a member of this workspace."]},
        )
    if team is not None and team.workspace_id != conversation.workspace_id:
        raise ValidationFailed(
            "The team belongs to another workspace.", field_errors={"team": ["Unknown team."]}
        )
    conversation = _lock(conversation)
    new_team = team.pk if team is not None else conversation.team_id
    conversations_assign_locked(
        assignments=[(conversation, assignee, new_team)], actor=actor, reason=reason
    )
    return conversation


def conversations_assign_locked(
    *,
    assignments: Sequence[tuple[Conversation, User | None, int | None]],
    actor: Actor,
    reason: str = "",
) -> None:
    """`conversation_assign` for many conversations at once, in a few statements: each
    (conversation, assignee, team id) as there. The caller holds the conversations' row locks,
    has them fresh from the database, and has checked that each assignee is a member and each
    team belongs to the workspace (routing does, for the agents and teams of its pass)."""
    changed: list[tuple[Conversation, bool]] = []
    rows: list[ConversationEvent] = []
    emitted: list[OutboxEvent] = []
    limit = int(getattr(settings, "ASCOLTO_TRANSFER_ALERT_AFTER", 3))
    now = timezone.now()
    for conversation, assignee, new_team in assignments:
        previous_assignee, previous_team = conversation.assignee_id, conversation.team_id
        new_assignee = assignee.pk if assignee is not None else None
        if (previous_assignee, previous_team) == (new_assignee, new_team):
            continue
        transfer = previous_assignee is not None and new_assignee != previous_assignee
        conversation.assignee = assignee
        conversation.team_id = new_team
        conversation.updated_at = now
        if transfer:
            conversation.transfer_count += 1
        changed.append((conversation, transfer))
        rows.append(
            _event_row(
                conversation,
                ConversationEvent.Kind.TRANSFERRED if transfer else ConversationEvent.Kind.ASSIGNED,
                actor,
                from_value=previous_assignee,
                to_value=new_assignee,
                reason=reason,
                data={"from_team": previous_team, "to_team": new_team},
            )
        )
        name = "inbox.conversation.transferred" if transfer else "inbox.conversation.assigned"
        emitted.append(
            OutboxEvent(
                workspace_id=conversation.workspace_id,
                name=name,
                payload={
                    "conversation_id": conversation.pk,
                    "from": previous_assignee,
                    "to": new_assignee,
                    "team": new_team,
                    "transfer_count": conversation.transfer_count,
                },
            )
        )
        if transfer and conversation.transfer_count > limit:
            realtime.publish_on_commit(
                workspace_id=conversation.workspace_id,
                event="inbox.conversation.bounced",
                payload={
                    "conversation_id": conversation.pk,
                    "transfer_count": conversation.transfer_count,
                },
            )
        events.publish_conversation(conversation, "inbox.conversation.updated")
    # One UPDATE per (agent, team, transfer or not): a pass's statements grow with the agents
    # it chose, not with the conversations.
    groups: dict[tuple[int, int | None, int | None, bool], list[int]] = {}
    for conversation, transfer in changed:
        key = (conversation.workspace_id, conversation.assignee_id, conversation.team_id, transfer)
        groups.setdefault(key, []).append(conversation.pk)
    for (workspace_id, assignee_id, team_id, transfer), ids in groups.items():
        Conversation.objects.filter(workspace_id=workspace_id, pk__in=ids).update(
            assignee_id=assignee_id,
            team_id=team_id,
            updated_at=now,
            **({"transfer_count": F("transfer_count") + 1} if transfer else {}),
        )
    insert_rows(ConversationEvent, rows)
    outbox.emit_many(events=emitted)


def conversation_set_priority(
    *, conversation: Conversation, priority: int, actor: Actor, reason: str = ""
) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationFailed("Unknown priority.", field_errors={"priority": ["0 to 3."]})
    conversation = _lock(conversation)
    if conversation.priority == priority:
        return conversation
    previous = conversation.priority
    conversation.priority = priority
    conversation.save(update_fields=["priority", "updated_at"])
    _event(
        conversation,
        ConversationEvent.Kind.PRIORITY,
        actor,
        from_value=previous,
        to_value=priority,
        reason=reason,
    )
    events.publish_conversation(conversation, "inbox.conversation.updated")
    return conversation


def conversation_set_tags(
    *, conversation: Conversation, names: list[str], actor: Actor
) -> list[Tag]:
    """Replace the conversation's tags with these names, creating unknown tags."""
    clean = sorted({n.strip().lower()[:60] for n in names if n.strip()})
    tags = []
    for name in clean:
        tag, _ = Tag.objects.get_or_create(workspace_id=conversation.workspace_id, name=name)
        tags.append(tag)
    before = sorted(conversation.tags.values_list("name", flat=True))
    if before == clean:
        return tags
    conversation.tags.set(tags)
    _event(
        conversation,
        ConversationEvent.Kind.TAGGED,
        actor,
        from_value=",".join(before),
        to_value=",".join(clean),
    )
    events.publish_conversation(conversation, "inbox.conversation.updated")
    return tags


def handling_record(
    *, conversation: Conversation, agent: User, started_at: dt.datetime, ended_at: dt.datetime
) -> HandlingInterval | None:
    """Record active handling time (the console reports focus/compose spans). Spans shorter than
    a second or longer than 4 hours are discarded as noise. The conversation is marked `handled`
    in the same transaction (a row update, so it waits for a service holding the row's lock)."""
    seconds = (ended_at - started_at).total_seconds()
    if seconds < 1 or seconds > 4 * 3600:
        return None
    interval = HandlingInterval.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        agent=agent,
        started_at=started_at,
        ended_at=ended_at,
    )
    Conversation.objects.filter(pk=conversation.pk, handled=False).update(handled=True)
    conversation.handled = True
    return interval


def snoozed_wake_up(*, now: dt.datetime | None = None) -> int:
    """Reopen snoozed conversations whose time has come. Returns how many woke up."""
    moment = now or timezone.now()
    woken = 0
    for conversation in Conversation.objects.filter(
        status=Status.SNOOZED, snoozed_until__lte=moment
    ).select_related("workspace")[:500]:
        conversation_set_status(
            conversation=conversation,
            status=Status.OPEN,
            actor=Actor.system("snooze"),
            reason="snooze ended",
        )
        woken += 1
    return woken


def inbox_create(
    *,
    workspace_id: int,
    name: str,
    channel: str,
    actor: Actor,
    team: Team | None = None,
    routing: str = "least_loaded",
    reopen_window_hours: int = 72,
) -> Inbox:
    from ascolto.core.audit import audit_record
    from ascolto.inbox.models import Channel

    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Required."]
    if channel not in Channel.values:
        errors["channel"] = [f"Choose one of: {', '.join(Channel.values)}."]
    if routing not in Inbox.Routing.values:
        errors["routing"] = [f"Choose one of: {', '.join(Inbox.Routing.values)}."]
    if errors:
        raise ValidationFailed("The inbox is not valid.", field_errors=errors)
    inbox = Inbox.objects.create(
        workspace_id=workspace_id,
        name=name.strip(),
        channel=channel,
        team=team,
        routing=routing,
        reopen_window_hours=reopen_window_hours,
    )
    audit_record(
        workspace=inbox.workspace,
        actor=actor,
        action="inbox.create",
        object_type="inbox",
        object_id=inbox.pk,
        changes={"name": inbox.name, "channel": channel},
    )
    return inbox
