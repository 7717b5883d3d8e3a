"""Conversation facts behind the dashboards, filtered, and the named subsets a number counts.

Each named subset has its rule twice: as a predicate over the facts (`SUBSETS`, what the
numbers count) and as a database condition (`SUBSET_QUERIES`, what a drill-down lists, a page
of it read however many conversations match). tests/analytics/dashboards/test_drill_queries.py
checks on random conversations that the two select the same conversations, so the list behind
a number holds exactly the conversations it counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.selectors import conversation_facts
from ascolto.core.models import Workspace
from ascolto.inbox.models import STARTED, Conversation, started_between

Facts = list[m.ConversationFacts]


def conversation_queryset(
    *, workspace: Workspace, filters: DashboardFilters
) -> QuerySet[Conversation]:
    """Conversations started in the period that match the filters (same start rule as
    `conversation_facts`: first customer message, else creation)."""
    qs = Conversation.objects.filter(workspace=workspace, merged_into__isnull=True).filter(
        started_between(filters.period.start, filters.period.end)
    )
    return _narrowed(qs, filters)


def _narrowed(qs: QuerySet[Conversation], filters: DashboardFilters) -> QuerySet[Conversation]:
    """The conversations matching every filter but the period."""
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.team_id is not None:
        qs = qs.filter(team_id=filters.team_id)
    if filters.agent_id is not None:
        qs = qs.filter(assignee_id=filters.agent_id)
    if filters.language:
        qs = qs.filter(language=filters.language)
    if filters.tier_value is not None:
        qs = qs.filter(customer__value_tier=filters.tier_value)
    return qs


def filtered_facts(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    with_messages: bool = True,
    touched_since: dt.datetime | None = None,
) -> Facts:
    """The metric facts of the filtered conversations, in id order. Without messages (much
    less to read) next response times and the assistant's resolutions cannot be computed.
    `touched_since`: see `selectors.conversation_facts`."""
    among = None
    if filters.channel or filters.team_id or filters.agent_id or filters.language or filters.tier:
        among = conversation_queryset(workspace=workspace, filters=filters)
    facts = conversation_facts(
        workspace=workspace,
        start=filters.period.start,
        end=filters.period.end,
        with_messages=with_messages,
        touched_since=touched_since,
        among=among,
    )
    return sorted(facts, key=lambda f: f.id)


def _sla_missed(due: str, done: str) -> Callable[[m.ConversationFacts, dt.datetime], bool]:
    def missed(c: m.ConversationFacts, now: dt.datetime) -> bool:
        due_at = getattr(c, due)
        done_at = getattr(c, done)
        if due_at is None:
            return False
        return (done_at is None and due_at <= now) or (done_at is not None and done_at > due_at)

    return missed


Predicate = Callable[[m.ConversationFacts, dt.datetime], bool]
SUBSETS: dict[str, tuple[object, Predicate]] = {
    "all": (_("All conversations"), lambda c, now: True),
    "answered": (_("Answered by an agent"), lambda c, now: m.first_response_time(c) is not None),
    "resolved": (_("Resolved"), lambda c, now: m.resolution_time(c) is not None),
    "reopened": (_("Reopened"), lambda c, now: c.reopen_count > 0),
    "handled": (_("With agent handling time"), lambda c, now: bool(c.handling)),
    "transferred": (_("Transferred"), lambda c, now: c.transfer_count > 0),
    "active": (
        _("Backlog (open, pending, snoozed)"),
        lambda c, now: c.status in ("open", "pending", "snoozed"),
    ),
    "bot_resolved": (_("Resolved by the assistant"), lambda c, now: c.bot_resolved),
    "frt_missed": (
        _("First response target missed"),
        _sla_missed("first_response_due_at", "first_response_at"),
    ),
    "resolution_missed": (
        _("Resolution target missed"),
        _sla_missed("resolution_due_at", "resolved_at"),
    ),
}


def subset(facts: Facts, name: str, *, now: dt.datetime | None = None) -> Facts:
    """The facts a named number counts. Raises KeyError for an unknown name."""
    predicate = SUBSETS[name][1]
    moment = now or timezone.now()
    return [c for c in facts if predicate(c, moment)]


def _sla_missed_q(due: str, done: str, now: dt.datetime) -> Q:
    return Q(**{f"{due}__isnull": False}) & (
        Q(**{f"{done}__isnull": True, f"{due}__lte": now})
        | Q(**{f"{done}__isnull": False, f"{done}__gt": F(due)})
    )


RESOLVED_STATUSES = ("resolved", "closed")
SUBSET_QUERIES: dict[str, Callable[[dt.datetime], Q]] = {
    "all": lambda now: Q(),
    "answered": lambda now: Q(
        first_customer_message_at__isnull=False, first_response_at__isnull=False
    ),
    "resolved": lambda now: Q(resolved_at__isnull=False, status__in=RESOLVED_STATUSES),
    "reopened": lambda now: Q(reopen_count__gt=0),
    # The flags the inbox services keep on the conversation (inbox.models.Conversation):
    # a handling span; an assistant message and no agent reply.
    "handled": lambda now: Q(handled=True),
    "transferred": lambda now: Q(transfer_count__gt=0),
    "active": lambda now: Q(status__in=("open", "pending", "snoozed")),
    "bot_resolved": lambda now: Q(
        resolved_at__isnull=False, has_bot_message=True, has_agent_reply=False
    ),
    "frt_missed": lambda now: _sla_missed_q("first_response_due_at", "first_response_at", now),
    "resolution_missed": lambda now: _sla_missed_q("resolution_due_at", "resolved_at", now),
}


# Subsets chosen by something other than their start in the period (so not among SUBSETS, whose
# facts are the period's conversations), narrowed by the other filters the same way. The number
# behind each is counted from this same condition.
LiveCondition = Callable[[DashboardFilters, dt.datetime], Q]
LIVE_SUBSETS: dict[str, tuple[object, LiveCondition]] = {
    # Agents' workload: what is assigned to them now, whenever it started.
    "open_now": (
        _("Assigned and open now (any start date)"),
        lambda filters, now: Q(
            merged_into__isnull=True,
            assignee__isnull=False,
            status__in=("open", "pending", "snoozed"),
        ),
    ),
    # The assistant's confirmed resolutions: its conversations created in the period
    # (assistant.selectors.assistant_metrics) whose customer said "yes, this solved it".
    "bot_confirmed": (
        _("Resolutions confirmed to the assistant"),
        lambda filters, now: Q(
            created_at__gte=filters.period.start,
            created_at__lt=filters.period.end,
            bot_session__confirmed=True,
        ),
    ),
}


def subset_label(name: str) -> str:
    """The title of a named subset's list. Raises KeyError for an unknown name."""
    found = SUBSETS.get(name) or LIVE_SUBSETS[name]
    return str(found[0])


def newest_first(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Latest start first, then the higher id: the order of the lists' indexes read backwards
    (inbox.models.Conversation, conv_drill_*), so a page stops after its rows."""
    return qs.order_by(STARTED.desc(), "-pk")


def subset_queryset(
    *, workspace: Workspace, filters: DashboardFilters, name: str, now: dt.datetime
) -> QuerySet[Conversation]:
    """The filtered conversations a named number counts, as one query. Raises KeyError for an
    unknown name."""
    if name in LIVE_SUBSETS:
        condition = LIVE_SUBSETS[name][1](filters, now)
        return _narrowed(Conversation.objects.filter(workspace=workspace), filters).filter(
            condition
        )
    condition = SUBSET_QUERIES[name](now)
    return conversation_queryset(workspace=workspace, filters=filters).filter(condition)
