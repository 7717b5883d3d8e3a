"""Console search: the same matches, newest first, whichever way the selector finds them (the
newest conversations of the view, the trigram indexes on PostgreSQL, or the plain query)."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.inbox import selectors
from ascolto.inbox.models import Conversation
from ascolto.inbox.selectors import ConversationFilter
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.test_selectors import inbox, receive  # noqa: F401 - the inbox fixture

WORDS = ["rimborso", "consegna", "refund", "parcel", "החזר", "משלוח", "W-1042", "hello"]


def search_all(workspace, agent, term, *, status=None, limit=3):
    """Every page of a search, following the cursor."""
    seen, cursor = [], None
    while True:
        page = selectors.conversation_list(
            workspace=workspace,
            user=agent,
            filters=ConversationFilter(search=term, status=status),
            cursor=cursor,
            limit=limit,
        )
        seen += [c.pk for c in page.items]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


@pytest.fixture
def corpus(workspace, inbox):  # noqa: F811 - the inbox fixture
    """Twelve conversations a minute apart, newest last, each with one or two words."""
    base = timezone.now() - dt.timedelta(hours=1)
    made = []
    for i in range(12):
        customer = CustomerFactory(workspace=workspace, name=f"Cliente {i}")
        if i == 3:
            customer.name = "Tamar Mizrahi"
            customer.save(update_fields=["name"])
            IdentityFactory(customer=customer, workspace=workspace, value="tamar@example.co.il")
        text = f"{WORDS[i % len(WORDS)]} e {WORDS[(i * 3) % len(WORDS)]}"
        made.append(
            (
                receive(
                    inbox, text=text, customer=customer, occurred_at=base + dt.timedelta(minutes=i)
                ),
                text,
            )
        )
    return made


def expected(corpus, needle):
    hits = [c for c, text in corpus if needle.lower() in text.lower()]
    return [c.pk for c in sorted(hits, key=lambda c: (c.last_message_at, c.pk), reverse=True)]


@pytest.mark.parametrize("window", [2, 5, 2000])
@pytest.mark.parametrize("cap", [1, 5000])
@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_every_strategy_finds_the_same_conversations_in_order(
    workspace, agent, corpus, monkeypatch, window, cap, chunk
):
    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", window)
    monkeypatch.setattr(selectors, "SEARCH_FIRST_CHUNK", chunk)
    monkeypatch.setattr(selectors, "SEARCH_ID_CAP", cap)
    for word in ["rimborso", "REFUND", "החזר", "w-1042", "nothing-like-this"]:
        assert search_all(workspace, agent, word) == expected(corpus, word), word
    mizrahi = [c.pk for c, _ in corpus if c.customer.name == "Tamar Mizrahi"]
    assert search_all(workspace, agent, "mizrahi") == mizrahi
    assert search_all(workspace, agent, "example.co.il") == mizrahi


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    word=st.sampled_from(WORDS),
    window=st.integers(min_value=1, max_value=14),
    chunk=st.integers(min_value=1, max_value=8),
    probe=st.integers(min_value=0, max_value=14),
    cap=st.integers(min_value=0, max_value=6),
    limit=st.integers(min_value=1, max_value=5),
)
def test_pages_never_skip_or_repeat_a_match(
    workspace, agent, corpus, word, window, chunk, probe, cap, limit
):
    names = ("SEARCH_RECENT_WINDOW", "SEARCH_FIRST_CHUNK", "SEARCH_EMPTY_PROBE", "SEARCH_ID_CAP")
    old = [getattr(selectors, name) for name in names]
    for name, value in zip(names, (window, chunk, probe, cap), strict=True):
        setattr(selectors, name, value)
    try:
        assert search_all(workspace, agent, word, limit=limit) == expected(corpus, word)
    finally:
        for name, value in zip(names, old, strict=True):
            setattr(selectors, name, value)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_the_walk_steps_over_conversations_with_the_same_last_activity(
    workspace, agent, corpus, monkeypatch, chunk
):
    """The walk's keyset (the last row's time as stored, then the id) neither skips nor
    repeats conversations whose last activity is the same instant, whatever the chunk size."""
    moment = timezone.now() - dt.timedelta(minutes=30, microseconds=123457)
    tied = [c.pk for c, _text in corpus[:9]]
    Conversation.objects.filter(pk__in=tied).update(last_message_at=moment)
    for conversation, _text in corpus:
        conversation.refresh_from_db()
    monkeypatch.setattr(selectors, "SEARCH_FIRST_CHUNK", chunk)
    monkeypatch.setattr(selectors, "SEARCH_EMPTY_PROBE", 1000)
    for word in ["e", "rimborso", "refund", "החזר", "mizrahi"]:
        for limit in (1, 2, 5, 50):
            found = search_all(workspace, agent, word, limit=limit)
            if word == "mizrahi":
                assert found == [c.pk for c, _ in corpus if c.customer.name == "Tamar Mizrahi"]
            else:
                assert found == expected(corpus, word), (word, limit)


def test_postgresql_has_the_trigram_indexes(db):
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname LIKE %s ORDER BY indexname",
            ["%_trgm"],
        )
        names = [row[0] for row in cursor.fetchall()]
    assert names == [
        "customers_customer_name_trgm",
        "customers_identity_value_trgm",
        "inbox_conversation_subject_trgm",
        "inbox_conversationsearchtext_text_trgm",
        "inbox_message_text_trgm",
    ]
