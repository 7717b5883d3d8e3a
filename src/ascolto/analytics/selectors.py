"""Reads that feed the metric definitions. Every selector takes the workspace."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q, QuerySet
from django.db.models.lookups import GreaterThan, LessThanOrEqual

from ascolto.analytics.service_metrics import FCR_WINDOW, ConversationFacts, MessageFact
from ascolto.core.models import Workspace
from ascolto.inbox.models import STARTED, Conversation, HandlingInterval, Message, started_between


def conversation_facts(
    *,
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    with_messages: bool = True,
    touched_since: dt.datetime | None = None,
    among: QuerySet[Conversation] | None = None,
) -> list[ConversationFacts]:
    """Facts of the conversations that started (first customer message, else creation) in
    [start, end). Three queries, plus one per thousands of resolved conversations' customers to
    see whether they came back within the first-contact window (`recontacted`).

    `touched_since` narrows the read to conversations with a message since then (an index
    lookup): pass the period's start for a recent period. A conversation's last message is
    never before its start, so the result is the same. `among` narrows it to those
    conversations (a queryset of this workspace's, filtered by the database)."""
    base = Conversation.objects.all() if among is None else among
    conversations = base.filter(workspace=workspace, merged_into__isnull=True)
    if touched_since is not None:
        conversations = conversations.filter(last_message_at__gte=touched_since)
    rows = list(
        conversations.filter(started_between(start, end)).values(
            "id",
            "customer_id",
            "channel",
            "created_at",
            "status",
            "first_customer_message_at",
            "first_response_at",
            "resolved_at",
            "reopen_count",
            "transfer_count",
            "first_response_due_at",
            "resolution_due_at",
        )
    )
    facts = {r["id"]: ConversationFacts(**r) for r in rows}
    if not facts:
        return []
    ids = list(facts)
    if with_messages:
        outbound_by: dict[int, bool] = defaultdict(bool)
        bot_by: dict[int, bool] = defaultdict(bool)
        for conversation_id, at, kind in (
            Message.objects.filter(workspace=workspace, conversation_id__in=ids)
            .exclude(kind=Message.Kind.NOTE)
            .values_list("conversation_id", "created_at", "kind")
        ):
            facts[conversation_id].messages.append(MessageFact(at=at, kind=kind))
            outbound_by[conversation_id] |= kind == Message.Kind.OUTBOUND
            bot_by[conversation_id] |= kind == Message.Kind.BOT
        for conversation_id, fact in facts.items():
            fact.bot_resolved = (
                fact.resolved_at is not None
                and bot_by[conversation_id]
                and not outbound_by[conversation_id]
            )
    for conversation_id, agent_id, started, ended in HandlingInterval.objects.filter(
        workspace=workspace, conversation_id__in=ids
    ).values_list("conversation_id", "agent_id", "started_at", "ended_at"):
        facts[conversation_id].handling.append((agent_id, started, ended))
    _mark_recontacts(workspace, [f for f in facts.values() if f.resolved_at is not None])
    return list(facts.values())


RECONTACT_CHUNK = 2000


def _mark_recontacts(workspace: Workspace, resolved: list[ConversationFacts]) -> None:
    """Set `recontacted` on conversations whose customer started another conversation (any
    channel, any team, not merged away) within FCR_WINDOW after the resolution."""
    by_customer: dict[int, list[ConversationFacts]] = defaultdict(list)
    for fact in resolved:
        by_customer[fact.customer_id].append(fact)
    customers = sorted(by_customer)
    for offset in range(0, len(customers), RECONTACT_CHUNK):
        chunk = customers[offset : offset + RECONTACT_CHUNK]
        earliest = min(f.resolved_at for c in chunk for f in by_customer[c] if f.resolved_at)
        latest = max(f.resolved_at for c in chunk for f in by_customer[c] if f.resolved_at)
        for customer_id, first_message, created in (
            Conversation.objects.filter(
                workspace=workspace, merged_into__isnull=True, customer_id__in=chunk
            )
            .filter(
                Q(GreaterThan(STARTED, earliest)), Q(LessThanOrEqual(STARTED, latest + FCR_WINDOW))
            )
            .values_list("customer_id", "first_customer_message_at", "created_at")
        ):
            started = first_message or created
            for fact in by_customer[customer_id]:
                resolved_at = fact.resolved_at
                if resolved_at is not None and resolved_at < started <= resolved_at + FCR_WINDOW:
                    fact.recontacted = True
