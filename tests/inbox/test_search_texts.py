"""Conversation search texts: written with every message, filled by the migration, and read by
search with the same answers as the plain definition (every message tested)."""

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.core.actors import Actor
from ascolto.customers.models import Identity
from ascolto.inbox import selectors, services
from ascolto.inbox.models import Conversation, ConversationSearchText
from ascolto.inbox.selectors import ConversationFilter
from ascolto.inbox.services import search as search_service
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory

fill_migration = importlib.import_module("ascolto.inbox.migrations.0008_conversation_search_text")

STRATEGIES = ("SEARCH_RECENT_WINDOW", "SEARCH_FIRST_CHUNK", "SEARCH_EMPTY_PROBE", "SEARCH_ID_CAP")


def search(workspace, agent, term, *, limit=3):
    """Every page of a search, following the cursor."""
    seen, cursor = [], None
    while True:
        page = selectors.conversation_list(
            workspace=workspace,
            user=agent,
            filters=ConversationFilter(search=term, status=None),
            cursor=cursor,
            limit=limit,
        )
        seen += [c.pk for c in page.items]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def plain(workspace, term):
    """The definition: subject, customer name, identities or any message contains the term."""
    qs = Conversation.objects.filter(workspace=workspace, merged_into__isnull=True)
    return list(
        qs.filter(selectors._matches(workspace, term))
        .order_by("-last_message_at", "-pk")
        .values_list("pk", flat=True)
    )


def texts(conversation):
    rows = ConversationSearchText.objects.filter(conversation=conversation).order_by("pk")
    return [row.text for row in rows]


def test_every_kind_of_message_is_added_to_the_search_text(workspace, agent, actor):
    inbox = InboxFactory(workspace=workspace)
    customer = CustomerFactory(workspace=workspace, name="Noa")
    conversation = services.message_receive(
        inbox=inbox, customer=customer, text="where is my parcel", subject="Ticket"
    ).conversation
    services.message_send(conversation=conversation, author=agent, actor=actor, text="on its way")
    services.note_add(conversation=conversation, author=agent, text="courier late", actor=actor)

    assert texts(conversation) == ["where is my parcel\non its way\ncourier late"]
    for term in ("PARCEL", "its way", "courier"):
        assert search(workspace, agent, term) == [conversation.pk], term
    # Texts of two messages never join into one match.
    assert search(workspace, agent, "parcel on") == []
    assert plain(workspace, "parcel on") == []


def test_a_long_thread_starts_new_rows(workspace, agent, actor, monkeypatch):
    monkeypatch.setattr(search_service, "SEARCH_TEXT_CHUNK", 30)
    inbox = InboxFactory(workspace=workspace)
    conversation = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="a" * 40, subject="T"
    ).conversation
    for word in ("first", "second", "third"):
        services.message_send(conversation=conversation, author=agent, actor=actor, text=word)

    assert texts(conversation) == ["a" * 40, "first\nsecond\nthird"]
    monkeypatch.setattr(search_service, "SEARCH_TEXT_CHUNK", 12)
    services.message_send(conversation=conversation, author=agent, actor=actor, text="fourth")
    assert texts(conversation) == ["a" * 40, "first\nsecond\nthird", "fourth"]
    assert search(workspace, agent, "fourth") == [conversation.pk]


def test_a_term_with_a_line_break_is_searched_on_the_messages(workspace, agent, actor):
    inbox = InboxFactory(workspace=workspace)
    one_message = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="hello\nworld", subject="T"
    ).conversation
    two_messages = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="hello", subject="T"
    ).conversation
    services.message_send(conversation=two_messages, author=agent, actor=actor, text="world")

    assert search(workspace, agent, "hello\nworld") == [one_message.pk]
    assert search(workspace, agent, "world") == [two_messages.pk, one_message.pk]


def test_other_workspaces_texts_never_match(workspace, agent, monkeypatch):
    for name, value in zip(STRATEGIES, (0, 1, 0, 5000), strict=True):
        monkeypatch.setattr(selectors, name, value)  # straight to the indexes
    other = WorkspaceFactory()
    services.message_receive(
        inbox=InboxFactory(workspace=other),
        customer=CustomerFactory(workspace=other),
        text="rimborso",
        subject="T",
    )
    mine = services.message_receive(
        inbox=InboxFactory(workspace=workspace),
        customer=CustomerFactory(workspace=workspace),
        text="un rimborso",
        subject="T",
    ).conversation
    assert search(workspace, agent, "rimborso") == [mine.pk]


def test_the_migration_fills_the_search_texts_from_the_messages(workspace, agent, actor):
    inbox = InboxFactory(workspace=workspace)
    long = "x" * 600
    first = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text=long, subject="T"
    ).conversation
    for text in ("refund", long, "parcel", ""):
        if text:
            services.message_send(conversation=first, author=agent, actor=actor, text=text)
    second = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="החזר כספי", subject="T"
    ).conversation
    written = {c.pk: sorted(texts(c)) for c in (first, second)}
    ConversationSearchText.objects.all().delete()

    fill_migration.fill_search_texts(connection)

    # Rows start every 1,000 characters of a conversation's texts: a different cut from the
    # one the services make, holding the same texts.
    assert texts(second) == ["החזר כספי"]
    # (texts 0-600, 601-607 and 608-1208 start below 1,000; the order within a row may vary)
    filled = sorted(sorted(row.split("\n")) for row in texts(first))
    assert filled == [["parcel"], sorted([long, long, "refund"])]
    assert sorted(t for row in filled for t in row) == sorted(
        "\n".join(written[first.pk]).split("\n")
    )
    for term in ("refund", "parcel", "כספי", "x" * 601):
        assert search(workspace, agent, term) == plain(workspace, term), term


WORDS = ["refund", "parcel", "rimborso", "החזר", "W-1042", "ok", "re", "fund"]
TEXTS = st.lists(st.sampled_from(WORDS), min_size=0, max_size=3).map(" ".join)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    threads=st.lists(
        st.lists(st.tuples(TEXTS, st.booleans()), min_size=1, max_size=4), min_size=1, max_size=6
    ),
    chunk=st.integers(min_value=1, max_value=40),
    strategy=st.tuples(
        st.integers(min_value=1, max_value=8),
        st.integers(min_value=1, max_value=4),
        st.integers(min_value=0, max_value=8),
        st.integers(min_value=0, max_value=6),
    ),
    term=st.sampled_from([*WORDS, "refund parcel", "d\nparcel", "und", "REFUND", "nothing"]),
    limit=st.integers(min_value=1, max_value=4),
)
def test_search_texts_answer_as_every_message_would(db, threads, chunk, strategy, term, limit):
    workspace = WorkspaceFactory()
    agent = UserFactory()
    MembershipFactory(workspace=workspace, user=agent, role="agent")
    actor = Actor.for_user(agent)
    inbox = InboxFactory(workspace=workspace)
    base = timezone.now() - dt.timedelta(hours=1)
    old = search_service.SEARCH_TEXT_CHUNK, [getattr(selectors, n) for n in STRATEGIES]
    search_service.SEARCH_TEXT_CHUNK = chunk
    try:
        for i, thread in enumerate(threads):
            first, _ = thread[0]
            conversation = services.message_receive(
                inbox=inbox,
                customer=CustomerFactory(workspace=workspace, name=f"C{i}"),
                text=first or "-",
                subject="T",
                occurred_at=base + dt.timedelta(minutes=i),
            ).conversation
            for text, is_note in thread[1:]:
                if not text:
                    continue
                if is_note:
                    services.note_add(
                        conversation=conversation, author=agent, text=text, actor=actor
                    )
                else:
                    services.message_receive(
                        inbox=inbox, customer=conversation.customer, text=text, subject="T"
                    )
        for name, value in zip(STRATEGIES, strategy, strict=True):
            setattr(selectors, name, value)
        assert search(workspace, agent, term, limit=limit) == plain(workspace, term)
    finally:
        search_service.SEARCH_TEXT_CHUNK = old[0]
        for name, value in zip(STRATEGIES, old[1], strict=True):
            setattr(selectors, name, value)


IDENTITIES = [
    "bob@example.com",
    "jimbob@example.com",
    "bob@example.com.au",
    "a@bob@example.com",
    "b%b@x.io",
    "b_b@x.io",
    "bxb@x.io",
    "b\\b@x.io",
    "josé@exämple.com",
    "+393331234567",
]


@pytest.mark.parametrize(
    "term",
    [
        "bob@example.com",
        "BOB@Example.COM",
        "ob@example.co",
        "b%b@x.io",
        "b_b@x.io",
        "b\\b@x.io",
        "@example.com",
        "bob@",
        "é@exä",
        "JOSÉ@",
        "bob@bob@example.com",
        "3331234",
    ],
)
def test_identity_lookup_finds_what_the_substring_match_finds(workspace, term):
    other = WorkspaceFactory()
    for value in IDENTITIES:
        IdentityFactory(
            workspace=workspace, customer=CustomerFactory(workspace=workspace), value=value
        )
        IdentityFactory(workspace=other, customer=CustomerFactory(workspace=other), value=value)
    expected = sorted(
        Identity.objects.filter(workspace=workspace, value__icontains=term.lower()).values_list(
            "customer_id", flat=True
        )
    )

    found = selectors.identity_customer_ids(workspace=workspace, term=term, cap=100)

    assert sorted(found or []) == expected
    assert found is not None
    if expected:
        assert (
            selectors.identity_customer_ids(workspace=workspace, term=term, cap=len(expected) - 1)
            is None
        )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    threads=st.lists(
        st.tuples(
            st.lists(st.integers(min_value=0, max_value=30), max_size=3),  # rows before
            st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=5),  # new
        ),
        min_size=1,
        max_size=4,
    ),
    chunk=st.integers(min_value=1, max_value=40),
)
def test_a_batch_of_messages_leaves_the_search_rows_one_call_per_message_leaves(db, threads, chunk):
    """The intake batch adds its messages' texts together (`search_texts_add`); the rows it
    leaves are the ones a call per message, in the same order, leaves."""
    from ascolto.inbox.models import Message

    workspace = WorkspaceFactory()
    inbox = InboxFactory(workspace=workspace)
    old = search_service.SEARCH_TEXT_CHUNK
    search_service.SEARCH_TEXT_CHUNK = chunk
    try:
        pairs, one_by_one, together = [], [], []
        for n, (before, new) in enumerate(threads):
            pair = []
            for _ in range(2):
                conversation = services.message_receive(
                    inbox=inbox, customer=CustomerFactory(workspace=workspace), text="-"
                ).conversation
                ConversationSearchText.objects.filter(conversation=conversation).delete()
                for size in before:
                    ConversationSearchText.objects.create(
                        workspace=workspace, conversation=conversation, text="x" * size
                    )
                pair.append(conversation)
            pairs.append(pair)
            for i, size in enumerate(new):
                for conversation, into in zip(pair, (one_by_one, together), strict=True):
                    into.append(
                        Message(
                            workspace=workspace,
                            conversation=conversation,
                            text=f"{n}.{i}" + "y" * size,
                        )
                    )
        # Interleave the threads as a batch does.
        one_by_one.sort(key=lambda m: m.text)
        together.sort(key=lambda m: m.text)
        for message in one_by_one:
            search_service.search_text_add(message=message)
        search_service.search_texts_add(messages=together)
    finally:
        search_service.SEARCH_TEXT_CHUNK = old

    for expected, got in pairs:
        assert texts(got) == texts(expected)
