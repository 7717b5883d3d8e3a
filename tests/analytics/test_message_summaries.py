"""The conversation facts the dashboards compute from (`selectors.conversation_facts`) carry
what the metrics need of the messages as the database found it (answered waits, the
assistant's resolutions) and their timestamps read as integers: on random conversations,
threads and handling spans, every fact and every figure equals the reference definition over
the messages themselves (service_metrics.next_response_times on each message, in time order)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics import service_metrics as m
from ascolto.analytics.dashboards.metrics import conversation_values
from ascolto.analytics.selectors import conversation_facts
from ascolto.inbox.models import Conversation, HandlingInterval, Message
from tests.analytics.test_rollups import NOW, _fill

KINDS = ["inbound", "outbound", "bot", "note", "system"]


def _reference(workspace: Any, start: dt.datetime, end: dt.datetime) -> dict[int, Any]:
    """The facts as defined: every message read, the waits found by walking them in time
    order, the assistant's resolution from the kinds seen, recontacts by scanning every other
    conversation of the customer."""
    conversations = [
        c
        for c in Conversation.objects.filter(workspace=workspace, merged_into__isnull=True)
        if start <= (c.first_customer_message_at or c.created_at) < end
    ]
    everyone = list(Conversation.objects.filter(workspace=workspace, merged_into__isnull=True))
    out: dict[int, Any] = {}
    for c in conversations:
        messages = [
            m.MessageFact(at=msg.created_at, kind=msg.kind)
            for msg in Message.objects.filter(conversation=c).exclude(kind="note")
        ]
        kinds = {msg.kind for msg in messages}
        fact = m.ConversationFacts(
            id=c.pk,
            customer_id=c.customer_id,
            channel=c.channel,
            created_at=c.created_at,
            status=c.status,
            first_customer_message_at=c.first_customer_message_at,
            first_response_at=c.first_response_at,
            resolved_at=c.resolved_at,
            reopen_count=c.reopen_count,
            transfer_count=c.transfer_count,
            first_response_due_at=c.first_response_due_at,
            resolution_due_at=c.resolution_due_at,
            messages=messages,
            handling=[
                (h.agent_id, h.started_at, h.ended_at)
                for h in HandlingInterval.objects.filter(conversation=c)
            ],
            bot_resolved=c.resolved_at is not None and "bot" in kinds and "outbound" not in kinds,
        )
        resolved = c.resolved_at
        fact.recontacted = resolved is not None and any(
            o.customer_id == c.customer_id
            and resolved < (o.first_customer_message_at or o.created_at) <= resolved + m.FCR_WINDOW
            for o in everyone
        )
        out[c.pk] = fact
    return out


def _threads(workspace: Any, seed: int) -> None:
    """Longer random threads than the rollup data: runs of customer messages, replies in a
    row, assistant answers and notes in between, some threads never answered."""
    rng = random.Random(seed)
    for c in Conversation.objects.filter(workspace=workspace).order_by("pk")[::3]:
        moment = c.first_customer_message_at or c.created_at
        batch = []
        for _ in range(rng.randrange(0, 14)):
            moment += dt.timedelta(seconds=rng.choice([1, 7, 60, 3_600, 50_000]))
            batch.append(
                Message(
                    workspace=workspace,
                    conversation=c,
                    inbox_id=c.inbox_id,
                    kind=rng.choice(KINDS),
                    text="t",
                    created_at=moment + dt.timedelta(microseconds=rng.randrange(1_000_000)),
                )
            )
        # One conversation's messages never share a moment (the reference's order of equal
        # times is the database's, undefined): the steps above are at least a second.
        Message.objects.bulk_create(batch)


@pytest.mark.parametrize("seed", [11, 12])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.integers(min_value=0, max_value=16),
    length=st.integers(min_value=0, max_value=16),
    later_hours=st.sampled_from([0, 5, 200]),
)
def test_facts_and_figures_equal_the_definitions_over_the_messages(
    workspace: Any, seed: int, first: int, length: int, later_hours: int
) -> None:
    if not hasattr(workspace, "_summary_data"):
        workspace._summary_data = _fill(workspace, seed, count=70)
        _threads(workspace, seed)
    end = NOW + dt.timedelta(hours=1) - dt.timedelta(days=first)
    start = end - dt.timedelta(days=length, hours=3)
    now = NOW + dt.timedelta(hours=later_hours)

    facts = conversation_facts(workspace=workspace, start=start, end=end)
    expected = _reference(workspace, start, end)

    assert sorted(f.id for f in facts) == sorted(expected)
    for fact in facts:
        want = expected[fact.id]
        assert m.next_response_times(fact) == m.next_response_times(want), fact.id
        assert fact.bot_resolved == want.bot_resolved, fact.id
        assert fact.recontacted == want.recontacted, fact.id
        assert sorted(fact.handling) == sorted(want.handling), fact.id
        for name in (
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
        ):
            assert getattr(fact, name) == getattr(want, name), (fact.id, name)
    ordered = [expected[f.id] for f in facts]
    assert conversation_values(facts, now=now) == conversation_values(ordered, now=now)


def test_timestamps_come_back_exact_and_in_utc(workspace: Any) -> None:
    _fill(workspace, seed=5, count=10)
    stored = {
        c.pk: c.created_at for c in Conversation.objects.filter(workspace=workspace).order_by("pk")
    }

    facts = conversation_facts(
        workspace=workspace, start=NOW - dt.timedelta(days=30), end=NOW + dt.timedelta(days=1)
    )

    assert {f.id: f.created_at for f in facts} == stored
    assert all(f.created_at.utcoffset() == dt.timedelta(0) for f in facts)
