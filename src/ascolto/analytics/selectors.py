"""Reads that feed the metric definitions. Every selector takes the workspace."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils.dateparse import parse_datetime

from ascolto.analytics.service_metrics import FCR_WINDOW, ConversationFacts
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
    [start, end). Three queries (two without messages); whether a resolved conversation's
    customer came back within the first-contact window (`recontacted`) is found with the
    conversations.

    `touched_since` narrows the read to conversations with a message since then (an index
    lookup): pass the period's start for a recent period. A conversation's last message is
    never before its start, so the result is the same. `among` narrows it to those
    conversations (a queryset of this workspace's, filtered by the database).

    With messages, what the metrics need of them is found by the database (`answered_waits`,
    `bot_resolved`): the messages themselves are not read, so `messages` stays empty."""
    base = Conversation.objects.all() if among is None else among
    conversations = base.filter(workspace=workspace, merged_into__isnull=True)
    if touched_since is not None:
        conversations = conversations.filter(last_message_at__gte=touched_since)
    selected = conversations.filter(started_between(start, end))
    # Read with the cursor: the values are taken as the driver hands them (`_moment`), so the
    # queryset's per-row converters would only cost time.
    sql, params = (
        selected.values_list(
            "id",
            "customer_id",
            "channel",
            "status",
            "reopen_count",
            "transfer_count",
            _recontacted(workspace),
            *(EpochMicros(name) for name in FACT_TIMES),
        )
        .order_by()
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    on_postgresql = connection.vendor == "postgresql"
    moment = _moment_of_micros if on_postgresql else _moment
    at = _at_micros if on_postgresql else _at
    facts: dict[int, ConversationFacts] = {}
    for (
        pk,
        customer_id,
        channel,
        status,
        reopens,
        transfers,
        recontacted,
        created,
        first_message,
        first_response,
        resolved,
        response_due,
        resolution_due,
    ) in rows:
        facts[pk] = ConversationFacts(
            id=pk,
            customer_id=customer_id,
            channel=channel,
            created_at=at(created),
            status=status,
            first_customer_message_at=moment(first_message),
            first_response_at=moment(first_response),
            resolved_at=moment(resolved),
            reopen_count=reopens,
            transfer_count=transfers,
            first_response_due_at=moment(response_due),
            resolution_due_at=moment(resolution_due),
            recontacted=resolved is not None and bool(recontacted),
        )
    if not facts:
        return []
    ids = _ids_filter(list(facts), selected)
    if with_messages:
        _add_message_summaries(workspace, facts, ids)
    for conversation_id, agent_id, started, ended in HandlingInterval.objects.filter(
        ids, workspace=workspace
    ).values_list(
        "conversation_id", "agent_id", EpochMicros("started_at"), EpochMicros("ended_at")
    ):
        facts[conversation_id].handling.append((agent_id, _at(started), _at(ended)))
    return list(facts.values())


def _ids_filter(ids: list[int], selected: QuerySet[Conversation]) -> Q:
    """`conversation_id` among the conversations read. On PostgreSQL one array parameter
    (thousands of separate parameters cost more to send than the lookups, and selecting the
    conversations again costs their filters again), written as an array literal: the driver
    adapts a list of thousands of integers one by one in Python; elsewhere the same selection
    as a subquery."""
    if connection.vendor == "postgresql":
        literal = "{" + ",".join(map(str, ids)) + "}"
        return Q(_AnyOf(F("conversation_id"), Value(literal)))
    return Q(conversation_id__in=selected.values("id"))


class _AnyOf(Func):
    """`column = ANY(%s::bigint[])`, the values as one array literal (PostgreSQL)."""

    template = "%(expressions)s::bigint[])"
    arg_joiner = " = ANY("
    output_field = BooleanField()


def _recontacted(workspace: Workspace) -> Case:
    """Whether the customer started another conversation (any channel, any team, not merged
    away) within FCR_WINDOW after this one's resolution (false while unresolved: the
    customer's conversations are then not looked up at all)."""
    resolved = OuterRef("resolved_at")
    came_back = Exists(
        Conversation.objects.filter(
            workspace=workspace, customer_id=OuterRef("customer_id"), merged_into__isnull=True
        ).filter(
            Q(GreaterThan(STARTED, resolved)), Q(LessThanOrEqual(STARTED, resolved + FCR_WINDOW))
        )
    )
    return Case(
        When(resolved_at__isnull=True, then=Value(False)),
        default=came_back,
        output_field=BooleanField(),
    )


# ConversationFacts' timestamps, in the order `conversation_facts` reads them.
FACT_TIMES = (
    "created_at",
    "first_customer_message_at",
    "first_response_at",
    "resolved_at",
    "first_response_due_at",
    "resolution_due_at",
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Below 2**33 seconds from the epoch (years 1697-2242) a float holds microseconds since then
# within 0.48 µs, so `fromtimestamp`'s rounding to the microsecond gives the exact instant, in
# half the time of adding a timedelta.
EXACT_FLOAT_MICROS = 2**33 * 1_000_000
MICROS_SQL = "(EXTRACT(EPOCH FROM {}) * 1000000)::bigint"


class EpochMicros(Func):
    """A timestamp as whole microseconds since the epoch on PostgreSQL, read back with
    `_moment`: the driver reads an integer many times faster than a timestamp (Django's time
    zone loader parses each in Python), and the facts of a few thousand conversations hold
    tens of thousands of them. Elsewhere the stored value itself."""

    arity = 1
    template = "%(expressions)s"
    output_field = BigIntegerField()

    @property
    def convert_value(self) -> Any:
        # Read as the backend hands it (an integer, or SQLite's timestamp): see `_moment`.
        return _as_read

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template=MICROS_SQL.format("%(expressions)s"))


def _as_read(value: object, expression: object, connection: object) -> object:
    return value


def _moment_of_micros(value: int | None) -> dt.datetime | None:
    """`_moment` of what PostgreSQL hands back for `EpochMicros`: an integer or NULL (the
    facts' loops convert tens of thousands of these)."""
    return None if value is None else _at_micros(value)


def _at_micros(value: int) -> dt.datetime:
    if -EXACT_FLOAT_MICROS < value < EXACT_FLOAT_MICROS:
        return dt.datetime.fromtimestamp(value / 1e6, dt.UTC)
    return EPOCH + dt.timedelta(microseconds=value)


def _moment(value: object) -> dt.datetime | None:
    """A timestamp as `EpochMicros` or raw SQL hands it back: microseconds since the epoch
    (PostgreSQL), or SQLite's stored UTC value (text, or a naive datetime)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int):
        return _at_micros(value)
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _at(value: object) -> dt.datetime:
    moment = _moment(value)
    if moment is None:
        raise ValueError(value)
    return moment


# What the metrics need of each conversation's messages, in one statement: its answered waits
# after the first (next response times) and whether the assistant and an agent wrote. Over its
# customer and agent messages in time order, a wait starts at a customer message that follows
# an agent reply (or none) and is answered by the first agent reply after it; ties in time are
# taken in id order. Rows: (conversation, wait start, reply, NULL, NULL) per answered wait and
# (conversation, NULL, NULL, bot messages, agent replies) per conversation.
MESSAGE_SUMMARY_SQL = """
WITH base AS (
    SELECT t.conversation_id AS cid, t.created_at AS at, t.id AS mid, t.kind AS kind
    FROM ({messages}) AS t
), thread AS (
    SELECT cid, at, mid, kind,
           LAG(kind) OVER (PARTITION BY cid ORDER BY at, mid) AS before
    FROM base
    WHERE kind IN ('inbound', 'outbound')
), marked AS (
    SELECT cid, at, mid, kind, before,
           MAX(CASE WHEN kind = 'inbound' AND (before IS NULL OR before <> 'inbound')
                    THEN at END)
               OVER (PARTITION BY cid ORDER BY at, mid ROWS UNBOUNDED PRECEDING) AS waited_from
    FROM thread
), answers AS (
    SELECT cid, waited_from, at,
           ROW_NUMBER() OVER (PARTITION BY cid ORDER BY at, mid) AS n
    FROM marked
    WHERE kind = 'outbound' AND before = 'inbound'
)
SELECT cid, {waited_from}, {at}, NULL, NULL FROM answers WHERE n > 1
UNION ALL
SELECT cid, NULL, NULL, SUM(CASE WHEN kind = 'bot' THEN 1 ELSE 0 END),
       SUM(CASE WHEN kind = 'outbound' THEN 1 ELSE 0 END)
FROM base GROUP BY cid
"""


def _add_message_summaries(
    workspace: Workspace, facts: dict[int, ConversationFacts], ids: Q
) -> None:
    """Set `answered_waits` and `bot_resolved` from the messages of the conversations (`ids`,
    the `_ids_filter` of theirs), found by the database in one statement instead of reading every
    message: the same as `next_response_times` and the assistant's resolution over the
    messages (tests/analytics/test_message_summaries.py)."""
    for fact in facts.values():
        fact.answered_waits = []
    micros = MICROS_SQL if connection.vendor == "postgresql" else "{}"
    kinds = (Message.Kind.INBOUND, Message.Kind.OUTBOUND, Message.Kind.BOT)
    messages = Message.objects.filter(ids, workspace=workspace, kind__in=kinds)
    sql, params = (
        messages.values("conversation_id", "created_at", "id", "kind")
        .order_by()
        .query.sql_with_params()
    )
    query = MESSAGE_SUMMARY_SQL.format(
        messages=sql, waited_from=micros.format("waited_from"), at=micros.format("at")
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    at = _at_micros if connection.vendor == "postgresql" else _at
    for conversation_id, waited_from, answered_at, bot, outbound in rows:
        fact = facts[conversation_id]
        if waited_from is not None:
            assert fact.answered_waits is not None
            fact.answered_waits.append((at(waited_from), at(answered_at)))
        else:
            fact.bot_resolved = fact.resolved_at is not None and bool(bot) and not outbound
    for fact in facts.values():
        assert fact.answered_waits is not None
        fact.answered_waits.sort()
