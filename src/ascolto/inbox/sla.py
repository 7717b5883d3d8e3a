"""SLA clocks: which policy applies, when each target is due, warnings, breaches, escalation.

A conversation's SLA state lives on it (`sla_policy`, `sla_paused_at` and the three `*_due_at`
columns) and is recomputed from its history by `sla_sync`: the status timeline in
ConversationEvent rows and the message timestamps. Recomputing instead of patching makes every
caller idempotent and order-independent, which is what at-least-once outbox handlers need.

The rules (docs/metrics.md names them for reports):
- The policy is the first active one, by `position`, matching the conversation's priority, the
  customer's value tier and the channel (blank matches any). It is chosen once, when the SLA
  first applies, and kept: a priority raised later (by hand or by escalation) changes queue
  order, not the deadlines already promised.
- Targets are business minutes in the policy's calendar, else the calendar of the
  conversation's team (or its inbox's team), else the workspace's default calendar (one with no
  team), else 24/7.
- First response runs from the first customer message until the first agent reply. A reopened
  conversation keeps its first response.
- Next response runs from the oldest customer message an agent has not answered yet, once the
  first response was given, and is cleared by the agent's reply.
- Resolution runs from the first customer message until the conversation is resolved.
- The clocks pause while the conversation is pending on the customer, resolved or closed (a
  reopen resumes them): every due instant is pushed back by the business time of each pause
  that began before it. A snoozed conversation's clock keeps running: the agent chose to wait.
- A warning fires `warn_before_minutes` (wall clock) before a due instant, a breach at it. Each
  fires once per (conversation, target, due instant): the SLAAlert unique constraint is the
  guarantee, not the scheduler, so several workers running the check at once is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from ascolto.accounts.models import Membership, Role, User
from ascolto.core import outbox, realtime
from ascolto.core.actors import Actor
from ascolto.inbox import events, services
from ascolto.inbox.business_hours import (
    Calendar,
    InvalidCalendar,
    add_business_time,
    business_time_between,
    calendar_for,
)
from ascolto.inbox.models import (
    AgentProfile,
    BusinessHours,
    Conversation,
    ConversationEvent,
    SLAAlert,
    SLAPolicy,
)

logger = logging.getLogger(__name__)

Status = Conversation.Status
Target = SLAAlert.Target
# The clock stops while the customer owes the next step or the work is done.
PAUSED = frozenset({Status.PENDING, Status.RESOLVED, Status.CLOSED})
RUNNING = (Status.OPEN, Status.SNOOZED)
ESCALATIONS = ("notify", "reassign_supervisor", "raise_priority")
SLA_ACTOR_LABEL = "sla"

WARNING_EVENT = realtime.define_event(
    "inbox.sla.warning", conversation_id=int, target=str, due_at=str
)
BREACH_EVENT = realtime.define_event(
    "inbox.sla.breached", conversation_id=int, target=str, due_at=str
)

Pause = tuple[dt.datetime, dt.datetime]


# --- Policy and calendar --------------------------------------------------------------------


def policy_for(conversation: Conversation) -> SLAPolicy | None:
    """The first active policy, by position, that matches the conversation (blank = any)."""
    tier = conversation.customer.value_tier
    for policy in SLAPolicy.objects.filter(
        workspace_id=conversation.workspace_id, is_active=True
    ).order_by("position", "id"):
        if policy.priority is not None and policy.priority != conversation.priority:
            continue
        if policy.value_tier and policy.value_tier != tier:
            continue
        if policy.channel and policy.channel != conversation.channel:
            continue
        return policy
    return None


def calendar_for_conversation(conversation: Conversation, policy: SLAPolicy) -> Calendar | None:
    """The business-hours calendar the policy's targets count in (None = 24/7). A calendar
    that cannot be compiled is logged and replaced by 24/7 rather than leaving no SLA."""
    hours: BusinessHours | None = policy.business_hours
    if hours is None:
        team_id = conversation.team_id or conversation.inbox.team_id
        # The team's calendar sorts before the workspace default (a null team sorts last).
        hours = (
            BusinessHours.objects.filter(workspace_id=conversation.workspace_id)
            .filter(Q(team__isnull=True) | Q(team_id=team_id))
            .order_by(F("team_id").asc(nulls_last=True), "id")
            .first()
        )
    try:
        return calendar_for(hours)
    except InvalidCalendar as exc:
        logger.warning(
            "Business hours #%s are invalid (%s); counting 24/7", hours and hours.pk, exc
        )
        return None


# --- The clock (pure) -------------------------------------------------------------------------


def status_pauses(
    created_at: dt.datetime,
    changes: Sequence[tuple[dt.datetime, str]],
    current_status: str,
    fallback: dt.datetime,
) -> tuple[list[Pause], dt.datetime | None]:
    """From a status timeline (the conversation starts open at `created_at`, then each
    (when, new status) in order) return the finished pauses and the start of the ongoing one.
    Where the timeline disagrees with the current status, the change is placed at `fallback`."""
    finished: list[Pause] = []
    paused_since: dt.datetime | None = None
    for when, status in changes:
        if status in PAUSED and paused_since is None:
            paused_since = max(when, created_at)
        elif status not in PAUSED and paused_since is not None:
            if when > paused_since:
                finished.append((paused_since, when))
            paused_since = None
    # The row is the truth when the timeline lacks a change (e.g. conversations imported).
    if current_status in PAUSED and paused_since is None:
        paused_since = fallback
    elif current_status not in PAUSED and paused_since is not None:
        if fallback > paused_since:
            finished.append((paused_since, fallback))
        paused_since = None
    return finished, paused_since


def due_at(
    start: dt.datetime, minutes: int, pauses: Sequence[Pause], calendar: Calendar | None
) -> dt.datetime:
    """`minutes` of business time after `start`, not counting the business time of pauses
    that began before the (growing) due instant. Pauses are sorted and do not overlap."""
    due = add_business_time(start, dt.timedelta(minutes=minutes), calendar)
    for paused_from, paused_to in pauses:
        if paused_to <= start:
            continue
        paused_from = max(paused_from, start)
        if paused_from >= due:
            break
        due = add_business_time(
            due, business_time_between(paused_from, paused_to, calendar), calendar
        )
    return due


@dataclass(frozen=True)
class Clock:
    paused_at: dt.datetime | None
    first_response_due_at: dt.datetime | None
    next_response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None


def compute_clock(
    conversation: Conversation,
    policy: SLAPolicy,
    calendar: Calendar | None,
    pauses: Sequence[Pause],
    paused_at: dt.datetime | None,
) -> Clock:
    start = conversation.first_customer_message_at
    if start is None:
        # Started by an agent: nothing is owed to the customer yet.
        return Clock(paused_at, None, None, None)
    first = next_ = resolution = None
    if policy.first_response_minutes is not None:
        first = due_at(start, policy.first_response_minutes, pauses, calendar)
    if (
        policy.next_response_minutes is not None
        and conversation.first_response_at is not None
        and conversation.waiting_since is not None
    ):
        next_ = due_at(conversation.waiting_since, policy.next_response_minutes, pauses, calendar)
    if policy.resolution_minutes is not None:
        resolution = due_at(start, policy.resolution_minutes, pauses, calendar)
    return Clock(paused_at, first, next_, resolution)


# --- Writes -----------------------------------------------------------------------------------


def _timeline(conversation: Conversation) -> list[tuple[dt.datetime, str]]:
    kinds = (
        ConversationEvent.Kind.CREATED,
        ConversationEvent.Kind.STATUS,
        ConversationEvent.Kind.REOPENED,
    )
    return list(
        ConversationEvent.objects.filter(
            workspace_id=conversation.workspace_id, conversation=conversation, kind__in=kinds
        )
        .order_by("created_at", "id")
        .values_list("created_at", "to_value")
    )


def _lock(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("customer", "inbox", "sla_policy", "sla_policy__business_hours")
        .get(pk=conversation.pk)
    )


def sla_sync(*, conversation: Conversation) -> Conversation:
    """Bring the conversation's SLA columns up to date with its history. Idempotent.

    Picks the policy when none applies yet; without a matching policy the columns stay empty.
    Locks the conversation row (call inside a transaction). Returns the locked, updated row.
    """
    conversation = _lock(conversation)
    policy = conversation.sla_policy
    if policy is None or not policy.is_active:
        policy = policy_for(conversation)
    if policy is None:
        clock = Clock(None, None, None, None)
    else:
        fallback = (
            conversation.resolved_at or conversation.closed_at or conversation.last_message_at
        )
        pauses, paused_at = status_pauses(
            conversation.created_at, _timeline(conversation), conversation.status, fallback
        )
        calendar = calendar_for_conversation(conversation, policy)
        clock = compute_clock(conversation, policy, calendar, pauses, paused_at)
    values = {
        "sla_policy_id": policy.pk if policy is not None else None,
        "sla_paused_at": clock.paused_at,
        "first_response_due_at": clock.first_response_due_at,
        "next_response_due_at": clock.next_response_due_at,
        "resolution_due_at": clock.resolution_due_at,
    }
    changed = [name for name, value in values.items() if getattr(conversation, name) != value]
    if changed:
        for name in changed:
            setattr(conversation, name, values[name])
        if policy is not None:
            conversation.sla_policy = policy
        conversation.save(update_fields=[*(n.removesuffix("_id") for n in changed), "updated_at"])
        events.publish_conversation(conversation, "inbox.conversation.updated")
    return conversation


# --- The periodic check -----------------------------------------------------------------------


@dataclass
class CheckResult:
    conversations: int = 0
    warnings: int = 0
    breaches: int = 0


def _open_targets(conversation: Conversation) -> list[tuple[str, dt.datetime]]:
    targets: list[tuple[str, dt.datetime]] = []
    if conversation.first_response_at is None and conversation.first_response_due_at:
        targets.append((Target.FIRST_RESPONSE, conversation.first_response_due_at))
    if conversation.next_response_due_at:
        targets.append((Target.NEXT_RESPONSE, conversation.next_response_due_at))
    if conversation.resolution_due_at:
        targets.append((Target.RESOLUTION, conversation.resolution_due_at))
    return targets


def due_conversation_ids(*, now: dt.datetime, limit: int) -> list[int]:
    """Running conversations with a target inside the warning horizon whose breach at that
    due instant has not fired yet (breached ones drop out, so a backlog costs nothing)."""
    longest_warning = SLAPolicy.objects.aggregate(m=Max("warn_before_minutes"))["m"] or 0
    horizon = now + dt.timedelta(minutes=longest_warning)

    def unbreached(target: str, field: str) -> Q:
        fired = SLAAlert.objects.filter(
            conversation=OuterRef("pk"),
            target=target,
            kind=SLAAlert.Kind.BREACH,
            due_at=OuterRef(field),
        )
        return Q(**{f"{field}__lte": horizon}) & Q(~Exists(fired))

    return list(
        Conversation.objects.filter(
            status__in=RUNNING, sla_policy__isnull=False, sla_paused_at__isnull=True
        )
        .filter(
            (
                Q(first_response_at__isnull=True)
                & unbreached(Target.FIRST_RESPONSE, "first_response_due_at")
            )
            | unbreached(Target.NEXT_RESPONSE, "next_response_due_at")
            | unbreached(Target.RESOLUTION, "resolution_due_at")
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def sla_check(*, now: dt.datetime | None = None, limit: int = 2000) -> CheckResult:
    """Fire due warnings and breaches, and run breach escalations. Safe to run concurrently.

    Each conversation is handled in its own transaction (a savepoint inside the caller's):
    lock, recompute its clock from history, then insert each alert in a savepoint; an
    IntegrityError means another worker fired it, and that worker runs its escalation.
    """
    moment = now or timezone.now()
    result = CheckResult()
    for conversation_id in due_conversation_ids(now=moment, limit=limit):
        with transaction.atomic():
            try:
                warnings, breaches = _check_one(Conversation(pk=conversation_id), moment)
            except Conversation.DoesNotExist:  # deleted since the query above
                continue
        result.conversations += 1
        result.warnings += warnings
        result.breaches += breaches
    return result


def _check_one(conversation: Conversation, now: dt.datetime) -> tuple[int, int]:
    conversation = sla_sync(conversation=conversation)
    policy = conversation.sla_policy
    if policy is None or conversation.status not in RUNNING or conversation.sla_paused_at:
        return 0, 0
    warn_before = dt.timedelta(minutes=policy.warn_before_minutes)
    warnings = breaches = 0
    for target, due in _open_targets(conversation):
        if now >= due:
            if _fire(conversation, target, SLAAlert.Kind.BREACH, due):
                breaches += 1
                _escalate(conversation, policy, target, due)
        elif (
            warn_before
            and now >= due - warn_before
            and _fire(conversation, target, SLAAlert.Kind.WARNING, due)
        ):
            warnings += 1
    return warnings, breaches


def _fire(conversation: Conversation, target: str, kind: str, due: dt.datetime) -> bool:
    """Record the alert once; False when it had already fired."""
    try:
        with transaction.atomic():
            SLAAlert.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                target=target,
                kind=kind,
                due_at=due,
            )
    except IntegrityError:
        return False
    payload = {"conversation_id": conversation.pk, "target": target, "due_at": due.isoformat()}
    if kind == SLAAlert.Kind.WARNING:
        realtime.publish_on_commit(
            workspace_id=conversation.workspace_id, event=WARNING_EVENT, payload=payload
        )
        outbox.emit(workspace=conversation.workspace, name="inbox.sla.warning", payload=payload)
    else:
        ConversationEvent.objects.create(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            kind=ConversationEvent.Kind.SLA,
            from_value=target,
            to_value="breach",
            reason=f"{target} due {due.isoformat()}",
            data={"due_at": due.isoformat()},
        )
    return True


def _escalate(conversation: Conversation, policy: SLAPolicy, target: str, due: dt.datetime) -> None:
    """Run the policy's escalation actions, each in a savepoint: one failing action (no
    supervisor to hand over to, say) is logged and does not undo the breach or the others."""
    actor = Actor.system(SLA_ACTOR_LABEL)
    reason = f"SLA breached: {target}"
    actions = [a for a in (policy.escalation or []) if a in ESCALATIONS]
    for action in actions:
        try:
            with transaction.atomic():
                if action == "notify":
                    payload = {
                        "conversation_id": conversation.pk,
                        "target": target,
                        "due_at": due.isoformat(),
                    }
                    realtime.publish_on_commit(
                        workspace_id=conversation.workspace_id,
                        event=BREACH_EVENT,
                        payload=payload,
                    )
                    outbox.emit(
                        workspace=conversation.workspace, name="inbox.sla.breached", payload=payload
                    )
                elif action == "reassign_supervisor":
                    supervisor = supervisor_for(conversation)
                    if supervisor is not None and supervisor.pk != conversation.assignee_id:
                        services.conversation_assign(
                            conversation=conversation,
                            assignee=supervisor,
                            actor=actor,
                            reason=reason,
                        )
                elif (
                    action == "raise_priority"
                    and conversation.priority < Conversation.Priority.URGENT
                ):
                    services.conversation_set_priority(
                        conversation=conversation,
                        priority=conversation.priority + 1,
                        actor=actor,
                        reason=reason,
                    )
        except Exception:
            logger.exception(
                "SLA escalation %s failed for conversation %s", action, conversation.pk
            )
        if action != "notify":
            conversation.refresh_from_db(fields=["assignee", "priority", "team"])


def supervisor_for(conversation: Conversation) -> User | None:
    """A supervisor to hand a breached conversation to: one of the conversation's team if any,
    else of the workspace; online ones first, then the longest since their last assignment."""
    supervisors = Membership.objects.filter(
        workspace_id=conversation.workspace_id, role=Role.SUPERVISOR, user__is_active=True
    ).values_list("user_id", flat=True)
    users = list(User.objects.filter(pk__in=supervisors))
    if not users:
        return None
    team_id = conversation.team_id or conversation.inbox.team_id
    in_team: set[int] = set()
    if team_id is not None:
        in_team = set(
            User.objects.filter(pk__in=[u.pk for u in users], teams__id=team_id).values_list(
                "pk", flat=True
            )
        )
    profiles = {
        p.user_id: p
        for p in AgentProfile.objects.filter(workspace_id=conversation.workspace_id, user__in=users)
    }
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)

    def rank(user: User) -> tuple[bool, bool, dt.datetime, int]:
        profile = profiles.get(user.pk)
        online = profile is not None and profile.availability == AgentProfile.Availability.ONLINE
        last = (profile.last_assigned_at if profile else None) or oldest
        return (user.pk not in in_team, not online, last, user.pk)

    return min(users, key=rank)
