"""Inbox reads: the console's views, search, a conversation's thread, and the resync feed.

Every selector takes the workspace and filters by it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from ascolto.accounts.models import User
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.pagination import decode_cursor, encode_cursor
from ascolto.customers.models import Customer, Identity, ValueTier
from ascolto.inbox.models import (
    SEARCH_TEXT_SEPARATOR,
    Conversation,
    ConversationSearchText,
    Inbox,
    Mention,
    Message,
)

MAX_PAGE = 100
VIEWS = ("mine", "unassigned", "my_teams", "all", "sla_due", "high_value", "mentions")
ACTIVE = (Conversation.Status.OPEN, Conversation.Status.PENDING, Conversation.Status.SNOOZED)
HIGH_VALUE = (ValueTier.PLATINUM, ValueTier.GOLD)


@dataclass
class ConversationFilter:
    view: str = "all"
    status: str | None = "open"
    channel: str | None = None
    inbox_id: int | None = None
    team_id: int | None = None
    assignee_id: int | None = None
    tag: str | None = None
    priority: int | None = None
    language: str | None = None
    search: str = ""


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None


def conversation_get(*, workspace: Workspace, conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.select_related("customer", "inbox", "assignee", "team")
        .filter(workspace=workspace, pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound(f"No conversation #{conversation_id} in this workspace.")
    return conversation


def inbox_get(*, workspace: Workspace, inbox_id: int) -> Inbox:
    inbox = Inbox.objects.filter(workspace=workspace, pk=inbox_id).first()
    if inbox is None:
        raise NotFound(f"No inbox #{inbox_id} in this workspace.")
    return inbox


def inbox_list(*, workspace: Workspace) -> QuerySet[Inbox]:
    return Inbox.objects.filter(workspace=workspace).order_by("name")


def _apply_view(
    qs: QuerySet[Conversation], view: str, user: User, now: dt.datetime
) -> QuerySet[Conversation]:
    if view not in VIEWS:
        raise ValidationFailed(
            f"Unknown view {view!r}.", field_errors={"view": [f"One of: {', '.join(VIEWS)}."]}
        )
    if view == "mine":
        return qs.filter(assignee=user)
    if view == "unassigned":
        return qs.filter(assignee__isnull=True)
    if view == "my_teams":
        return qs.filter(team__members=user)
    if view == "sla_due":
        soon = now + dt.timedelta(hours=1)
        return qs.filter(
            Q(first_response_at__isnull=True, first_response_due_at__lte=soon)
            | Q(waiting_since__isnull=False, next_response_due_at__lte=soon)
            | Q(resolution_due_at__lte=soon)
        )
    if view == "high_value":
        return qs.filter(customer__value_tier__in=HIGH_VALUE)
    if view == "mentions":
        mentioned = Mention.objects.filter(user=user, message__conversation=OuterRef("pk"))
        return qs.filter(Exists(mentioned))
    return qs


def conversation_list(
    *,
    workspace: Workspace,
    user: User,
    filters: ConversationFilter | None = None,
    cursor: str | None = None,
    limit: int = 50,
    now: dt.datetime | None = None,
) -> Page:
    """Conversations for a console view, most recent activity first, keyset-paginated on
    (last_message_at, id). `status=None` means every status."""
    f = filters or ConversationFilter()
    limit = max(1, min(limit, MAX_PAGE))
    qs = Conversation.objects.filter(workspace=workspace, merged_into__isnull=True)
    qs = _apply_view(qs, f.view, user, now or timezone.now())
    if f.status == "active":
        qs = qs.filter(status__in=ACTIVE)
    elif f.status:
        qs = qs.filter(status=f.status)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.inbox_id:
        qs = qs.filter(inbox_id=f.inbox_id)
    if f.team_id:
        qs = qs.filter(team_id=f.team_id)
    if f.assignee_id:
        qs = qs.filter(assignee_id=f.assignee_id)
    if f.tag:
        qs = qs.filter(tags__name=f.tag.lower())
    if f.priority is not None:
        qs = qs.filter(priority=f.priority)
    if f.language:
        qs = qs.filter(language=f.language)
    if cursor:
        last_at, last_id = decode_cursor(cursor, types=(dt.datetime, int))
        qs = qs.filter(Q(last_message_at__lt=last_at) | Q(last_message_at=last_at, pk__lt=last_id))
    term = f.search.strip()
    rows = _searched(qs, workspace, term, limit) if term else _newest(qs, limit)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.last_message_at, last.pk)
    return Page(items=rows[:limit], next_cursor=next_cursor)


def _newest(qs: QuerySet[Conversation], limit: int) -> list[Conversation]:
    """The first `limit + 1` conversations of `qs`, most recent activity first.

    One query, but the page's keys are chosen in a subquery before the customer, agent, inbox
    and team are joined: a view read through a bitmap (SLA due) would otherwise join every
    candidate row before the sort keeps 51 of them."""
    page = qs.order_by("-last_message_at", "-pk").values("pk")[: limit + 1]
    return _rows(Conversation.objects.filter(pk__in=page))


# What a list row shows of a conversation's customer, agent, inbox and team (the console's
# rows and the API's `ConversationOut`); their other columns are not read for a page.
LIST_RELATED_FIELDS = (
    "customer__name",
    "customer__value_tier",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "inbox__name",
    "inbox__channel",
    "team__name",
)


def _rows(qs: QuerySet[Conversation]) -> list[Conversation]:
    """The conversations of `qs` as list rows, most recent activity first."""
    own = [field.name for field in Conversation._meta.concrete_fields]
    return list(
        qs.select_related("customer", "assignee", "inbox", "team")
        .only(*own, *LIST_RELATED_FIELDS)
        .order_by("-last_message_at", "-pk")
    )


def _page(ids: list[int]) -> list[Conversation]:
    """The conversations `ids` (already of the view, newest first), read for the page."""
    return _rows(Conversation.objects.filter(pk__in=ids)) if ids else []


# Search walks the most recent conversations of the view first, in chunks that grow from
# SEARCH_FIRST_CHUNK, testing each row in the same query that reads it; a term found among them
# (any common word) needs no index at all and stops the walk as soon as a page is full. Past
# SEARCH_RECENT_WINDOW conversations the matches are collected from the trigram indexes
# (PostgreSQL, migrations inbox 0002 and 0007), at most SEARCH_ID_CAP ids per source; beyond it
# the single full query runs. Message texts are read from the conversations' search texts
# (inbox.models.ConversationSearchText): a row or two per conversation instead of every message.
SEARCH_RECENT_WINDOW = 2000
SEARCH_FIRST_CHUNK = 100
# A walk that has found nothing in this many conversations stops early: the term is rare, and
# the indexes answer it faster than the rest of the window would.
SEARCH_EMPTY_PROBE = 100
SEARCH_ID_CAP = 5000


def _searched(
    qs: QuerySet[Conversation], workspace: Workspace, term: str, limit: int
) -> list[Conversation]:
    """The first `limit + 1` conversations of `qs` matching the search term, newest first.

    The answer is the same as `_newest(qs.filter(_matches(...)))`; only the way there differs:
    1. the view is walked newest first, at most `SEARCH_RECENT_WINDOW` conversations, each chunk
       one query that reads the keys and tests the term; the walk stops once `limit + 1`
       matches are seen (they are then the newest matches of the whole view);
    2. else, on PostgreSQL, the matching conversation ids come from the indexed columns source by
       source, as long as each source stays under `SEARCH_ID_CAP` ids (a rare term);
    3. else the plain query, correct everywhere and fast enough on small workspaces.
    A term that contains the separator of the search texts (a line break) is only ever searched
    the plain way, on the messages themselves.
    """
    if SEARCH_TEXT_SEPARATOR in term:
        return _newest(qs.filter(_matches(workspace, term)), limit)
    # Customers with a matching identity are looked up once and tested by key below (None past
    # the cap): tested per row, PostgreSQL would rather hash every matching identity, which for
    # an email address means reading the posting lists of its common trigrams.
    by_identity = identity_customer_ids(workspace=workspace, term=term, cap=SEARCH_ID_CAP)
    hits, complete = _recent_match_ids(qs, workspace, term, limit, by_identity)
    if complete:
        return _page(list(dict.fromkeys(hits))[: limit + 1])
    if connections[qs.db].vendor == "postgresql" and by_identity is not None:
        ids = _indexed_match_ids(workspace, term, by_identity)
        if ids is not None:
            return _newest(qs.filter(pk__in=ids), limit)
    return _newest(qs.filter(_matches(workspace, term, search_texts=True)), limit)


def _recent_match_ids(
    qs: QuerySet[Conversation],
    workspace: Workspace,
    term: str,
    limit: int,
    by_identity: list[int] | None,
) -> tuple[list[int], bool]:
    """Walk the view newest first in growing chunks (at most `SEARCH_RECENT_WINDOW` rows in
    all, `SEARCH_EMPTY_PROBE` if none of them matches). Returns the matching ids seen, newest
    first, and whether they decide the page: `limit + 1` of them, or the whole view walked.

    The chunk query is compiled once per search and run with the chunk's keyset and size as
    parameters: compiling the test of the term and the view's filters took as much of the
    process's time as running the query."""
    first, rest, params = _walk_sql(qs, workspace, term, by_identity)
    hits: list[int] = []
    walked, chunk = 0, max(1, SEARCH_FIRST_CHUNK)
    after: list[Any] = []
    with connections[qs.db].cursor() as cursor:
        while walked < SEARCH_RECENT_WINDOW:
            size = min(chunk, SEARCH_RECENT_WINDOW - walked)
            cursor.execute(rest if after else first, [*params, *after, size])
            rows = cursor.fetchall()
            hits += [pk for pk, _at, matched in rows if matched]
            walked += len(rows)
            if len(hits) > limit or len(rows) < size:
                return hits, True
            if not hits and walked >= SEARCH_EMPTY_PROBE:
                break
            last_pk, last_at, _matched = rows[-1]
            after = [last_at, last_at, last_pk]
            chunk *= 2
    return hits, False


# Stands for the chunk's keys in the compiled test of the term (replaced by `_walk_sql`).
_WALK_KEYS = "/* walk keys */ SELECT NULL"


def _walk_sql(
    qs: QuerySet[Conversation], workspace: Workspace, term: str, by_identity: list[int] | None
) -> tuple[str, str, list[Any]]:
    """The walk's chunk query, for the first chunk and for the chunks after a keyset, and the
    parameters they share; each then takes the keyset (for `rest`) and the chunk's size.

    A chunk reads its rows and tests the term in one query: `(pk, last_message_at as text, hit)`
    of the chunk, newest first. The chunk's keys are chosen in a subquery so that PostgreSQL plans
    the test for that many rows (a probe per row), not for the whole view (a hashed scan of
    every match)."""
    hit = Case(
        When(_matches(workspace, term, by_identity, search_texts=True), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    order = ("-last_message_at", "-pk")
    tested = (
        Conversation.objects.using(qs.db)
        .filter(pk__in=RawSQL(_WALK_KEYS, ()))  # noqa: S611 - a constant, replaced below
        # The row's time as the database writes it (a text is cheaper to read than a
        # datetime, and only the last row's is used: as the next chunk's keyset, compared as
        # exactly the value stored).
        .annotate(search_hit=hit, walk_key=Cast("last_message_at", TextField()))
        .order_by(*order)
        .values_list("pk", "walk_key", "search_hit")
    )
    test_sql, test_params = tested.query.get_compiler(using=qs.db).as_sql()
    view = (
        qs.order_by()
        .annotate(walk_at=F("last_message_at"), walk_id=F("pk"))
        .values("walk_id", "walk_at")
    )
    view_sql, view_params = view.query.get_compiler(using=qs.db).as_sql()
    if test_sql.count(_WALK_KEYS) != 1:  # pragma: no cover - the ORM's SQL changed shape
        raise AssertionError("The walk's chunk query cannot be composed.")
    # The placeholder is the only parameter-free part of the WHERE, which follows the SELECT's
    # parameters: the view's parameters and the chunk's go last. Only SQL compiled by the ORM
    # is composed here; every value stays a parameter.
    order_by = " ORDER BY v.walk_at DESC, v.walk_id DESC LIMIT %s"
    keyset = " WHERE (v.walk_at < %s OR (v.walk_at = %s AND v.walk_id < %s))"
    first = f"SELECT v.walk_id FROM ({view_sql}) v{order_by}"  # noqa: S608
    rest = f"SELECT v.walk_id FROM ({view_sql}) v{keyset}{order_by}"  # noqa: S608
    return (
        test_sql.replace(_WALK_KEYS, first),
        test_sql.replace(_WALK_KEYS, rest),
        [*test_params, *view_params],
    )


def _matches(
    workspace: Workspace,
    term: str,
    by_identity: list[int] | None = None,
    *,
    search_texts: bool = False,
) -> Q:
    """Subject, customer name, any of the customer's identities, or any message of the
    conversation contains the term (case-insensitive): the definition of a search match.
    `by_identity`, when given, is the list of the workspace's customers with an identity
    containing the term. `search_texts` reads the messages' texts from the conversation's
    search texts, which gives the same answer for a term without a line break (their
    separator)."""
    if search_texts:
        in_messages = Exists(
            ConversationSearchText.objects.filter(
                workspace=workspace, conversation_id=OuterRef("pk"), text__icontains=term
            )
        )
    else:
        in_messages = Exists(
            Message.objects.filter(
                workspace=workspace, conversation_id=OuterRef("pk"), text__icontains=term
            )
        )
    identity = (
        Q(customer_id__in=by_identity)
        if by_identity is not None
        else Q(
            Exists(
                Identity.objects.filter(
                    workspace=workspace,
                    customer_id=OuterRef("customer_id"),
                    value__icontains=term.lower(),
                )
            )
        )
    )
    return (
        Q(subject__icontains=term) | Q(customer__name__icontains=term) | identity | Q(in_messages)
    )


def _indexed_match_ids(workspace: Workspace, term: str, by_identity: list[int]) -> set[int] | None:
    """Ids of the conversations matching the term, read through the trigram indexes
    (`by_identity`: the customers with a matching identity, already read); None when a source
    has more than `SEARCH_ID_CAP` matches (then the plain query is the better plan)."""
    cap = SEARCH_ID_CAP
    conversations = Conversation.objects.filter(workspace=workspace)
    by_text = list(
        ConversationSearchText.objects.filter(
            workspace=workspace, text__icontains=term
        ).values_list("conversation_id", flat=True)[: cap + 1]
    )
    by_subject = list(
        conversations.filter(subject__icontains=term).values_list("pk", flat=True)[: cap + 1]
    )
    customers = list(
        Customer.objects.filter(workspace=workspace, name__icontains=term).values_list(
            "pk", flat=True
        )[: cap + 1]
    )
    customers += by_identity
    if max(len(by_text), len(by_subject), len(customers)) > cap:
        return None
    by_customer = list(
        conversations.filter(customer_id__in=customers).values_list("pk", flat=True)[: cap + 1]
    )
    if len(by_customer) > cap:
        return None
    return {*by_text, *by_subject, *by_customer}


def identity_customer_ids(*, workspace: Workspace, term: str, cap: int) -> list[int] | None:
    """The customers with an identity containing the term (lowercased, as identities are
    stored), at most `cap`; None past it.

    A whole email address ("local@domain", one "@") is looked up through the index of the
    reversed part before the "@" (migration customers 0003): a value with a single "@" can
    only contain the address if that part ends with "local"; values with more "@" are few and
    indexed apart. Every candidate is then tested with the plain substring match, so the answer
    is exactly the trigram lookup's, without reading the long posting lists of an address's
    common trigrams. Other terms use the trigram index (migration inbox 0002)."""
    needle = term.lower()
    local, at, domain = needle.partition("@")
    postgresql = connections[Identity.objects.db].vendor == "postgresql"
    if not (postgresql and at and local and "@" not in domain):
        ids = list(
            Identity.objects.filter(workspace=workspace, value__icontains=needle).values_list(
                "customer_id", flat=True
            )[: cap + 1]
        )
        return None if len(ids) > cap else ids
    contains = "%" + _like_escape(needle) + "%"
    with connections[Identity.objects.db].cursor() as cursor:
        # The prefix is computed by PostgreSQL (its own UPPER) and folded into a constant,
        # which the planner turns into a range of the index.
        cursor.execute(
            r"""
            SELECT customer_id FROM customers_identity
            WHERE workspace_id = %s
              AND (reverse(upper(split_part(value, '@', 1))) LIKE
                       replace(replace(replace(reverse(upper(%s)), '\', '\\'),
                                       '%%', '\%%'), '_', '\_') || '%%'
                   OR value LIKE '%%@%%@%%')
              AND UPPER(value::text) LIKE UPPER(%s)
            LIMIT %s
            """,
            [workspace.pk, local, contains, cap + 1],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return None if len(ids) > cap else ids


def _like_escape(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (the escaping Django's lookups use)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def thread(*, conversation: Conversation, include_notes: bool = True) -> list[Message]:
    qs = (
        Message.objects.filter(workspace_id=conversation.workspace_id, conversation=conversation)
        .select_related("author_user")
        .prefetch_related("attachments")
    )
    if not include_notes:
        qs = qs.exclude(kind=Message.Kind.NOTE)
    return list(qs.order_by("created_at", "pk"))


def messages_since(
    *, conversation: Conversation, after_id: int, include_notes: bool = True, limit: int = 200
) -> list[Message]:
    """Messages after a cursor id: what a client that reconnects needs to resync."""
    qs = Message.objects.filter(
        workspace_id=conversation.workspace_id, conversation=conversation, pk__gt=after_id
    )
    if not include_notes:
        qs = qs.exclude(kind=Message.Kind.NOTE)
    return list(qs.select_related("author_user").order_by("pk")[:limit])


def conversations_changed_since(
    *, workspace: Workspace, since: dt.datetime, limit: int = 500
) -> list[Conversation]:
    """Conversations updated after `since`: the console's resync after a dropped socket."""
    return list(
        Conversation.objects.filter(workspace=workspace, updated_at__gt=since)
        .select_related("customer", "assignee")
        .order_by("updated_at")[:limit]
    )


def customer_conversations(
    *, workspace: Workspace, customer_id: int, limit: int = 20
) -> list[Conversation]:
    return list(
        Conversation.objects.filter(workspace=workspace, customer_id=customer_id).order_by(
            "-last_message_at"
        )[:limit]
    )


# The sidebar badges count up to this many and then say "100+" (a capped badge, as Zendesk and
# Chatwoot do): past it the exact figure tells an agent little, and costs a walk of the open
# conversations that grows with the cap (at 1M conversations, 1,000 was twice the 50 ms budget).
VIEW_COUNT_CAP = 100


def view_counts(*, workspace: Workspace, user: User) -> dict[str, int]:
    """Open conversations per console view, for the sidebar badges. A count above
    `VIEW_COUNT_CAP` is reported as `VIEW_COUNT_CAP + 1` (each query stops there)."""
    now = timezone.now()
    base = Conversation.objects.filter(
        workspace=workspace, merged_into__isnull=True, status=Conversation.Status.OPEN
    )
    return {
        view: _apply_view(base, view, user, now)
        .order_by("-last_message_at", "-pk")[: VIEW_COUNT_CAP + 1]
        .count()
        for view in VIEWS
    }
