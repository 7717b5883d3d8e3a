"""A drill-down lists exactly the conversations its number counts: each named subset's database
condition (`SUBSET_QUERIES`, what the list reads) selects the same conversations as its
predicate over the facts (`SUBSETS`, what the dashboards count), for any filters and moment,
newest first. The conditions read flags kept on the conversation (`handled`,
`has_bot_message`, `has_agent_reply`): set by the inbox services as threads grow, and by the
migration's backfill for rows written before them; both are checked against the facts."""

from __future__ import annotations

import datetime as dt
from importlib import import_module
from pkgutil import iter_modules
from typing import Any, cast

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics.dashboards import drill
from ascolto.analytics.dashboards.conversations import (
    SUBSET_QUERIES,
    SUBSETS,
    filtered_facts,
    subset,
    subset_queryset,
)
from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.core.actors import Actor
from ascolto.inbox import migrations, services
from ascolto.inbox.models import Conversation, Message
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.analytics.test_rollups import DAYS, NOW, PICKS, _fill, _filters
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

# The migration that adds the flags, by its name whatever its number.
DRILL_FLAGS = import_module(
    "ascolto.inbox.migrations."
    + next(m.name for m in iter_modules(migrations.__path__) if m.name.endswith("_drill_flags"))
)
FLAGS = ("handled", "has_bot_message", "has_agent_reply")


def _backfill() -> None:
    """The flags of rows written directly (as the random fill does), set by the migration."""
    with connection.cursor() as cursor:
        cursor.execute(DRILL_FLAGS.BACKFILL_SQL)


def _newest_first(facts: list[Any]) -> list[int]:
    """The list's order: latest start (first customer message, else creation), then id."""
    ordered = sorted(
        facts, key=lambda c: (c.first_customer_message_at or c.created_at, c.id), reverse=True
    )
    return [c.id for c in ordered]


def test_every_subset_has_its_database_condition():
    assert SUBSET_QUERIES.keys() == SUBSETS.keys()


@pytest.mark.parametrize("seed", [3, 4])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(SUBSETS)),
    first=st.integers(min_value=0, max_value=DAYS + 2),
    length=st.integers(min_value=0, max_value=DAYS + 2),
    pick=st.sampled_from(PICKS),
    later_hours=st.sampled_from([0, 3, 30, 400]),
)
def test_the_list_behind_a_number_holds_exactly_what_it_counts(
    workspace: Any, seed: int, name: str, first: int, length: int, pick: str, later_hours: int
) -> None:
    if not hasattr(workspace, "_drill_data"):
        workspace._drill_data = _fill(workspace, seed, count=90)
        # Merged conversations count nowhere and are listed nowhere.
        kept, *gone = Conversation.objects.filter(workspace=workspace).order_by("pk")[:3]
        Conversation.objects.filter(pk__in=[c.pk for c in gone]).update(merged_into=kept)
        _backfill()
    filters = _filters(workspace, workspace._drill_data, first, length, pick)
    now = NOW + dt.timedelta(hours=later_hours)

    facts = subset(filtered_facts(workspace=workspace, filters=filters), name, now=now)
    counted = [c.id for c in facts]
    listed = subset_queryset(workspace=workspace, filters=filters, name=name, now=now)

    assert sorted(listed.values_list("pk", flat=True)) == counted
    label, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name=name, now=now
    )
    assert count == len(counted)
    assert [row.pk for row in rows] == _newest_first(facts)[: drill.DRILL_LIMIT]
    assert label == str(SUBSETS[name][0])


def test_the_list_is_cut_at_the_limit_but_the_count_is_whole(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _fill(workspace, seed=8, count=30)
    filters = _filters(workspace, data, DAYS, DAYS, "")
    monkeypatch.setattr(drill, "DRILL_LIMIT", 5)

    _, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name="all", now=NOW
    )

    everything = _newest_first(list(Conversation.objects.filter(workspace=workspace)))
    assert count == 30
    assert [row.pk for row in rows] == everything[:5]


def test_another_workspace_s_conversations_are_never_listed(
    workspace: Any, other_workspace: Any
) -> None:
    data = _fill(workspace, seed=9, count=10)
    _fill(other_workspace, seed=9, count=10)
    filters = _filters(workspace, data, DAYS, DAYS, "")

    _, count, rows = drill.drill_conversations(
        workspace=workspace, filters=filters, name="all", now=NOW
    )

    assert count == 10
    assert {row.workspace_id for row in rows} == {workspace.pk}


# What can happen to a conversation, each through the inbox service a person's action calls.
STEPS = ("customer", "reply", "bot", "note", "handle", "short_handle", "resolve", "reopen")


def _thread(workspace: Any, agent: Any, steps: list[str]) -> Conversation:
    """A conversation grown step by step through the inbox services: one customer's thread,
    started a day ago (so in the last 28 days), then whatever the steps say."""
    inbox = InboxFactory(workspace=workspace)
    customer = CustomerFactory(workspace=workspace)
    actor = Actor.system("test")
    began = timezone.now() - dt.timedelta(days=1)
    conversation = services.message_receive(
        inbox=inbox, customer=customer, text="hello", occurred_at=began
    ).conversation
    for step in steps:
        if step == "customer":
            services.message_receive(
                inbox=inbox, customer=customer, text="again", conversation=conversation
            )
        elif step == "reply":
            services.message_send(conversation=conversation, author=agent, actor=actor, text="r")
        elif step == "bot":
            services.message_send(
                conversation=conversation,
                author=cast(Any, None),
                actor=actor,
                text="b",
                kind=Message.Kind.BOT,
            )
        elif step == "note":
            services.note_add(conversation=conversation, author=agent, actor=actor, text="n")
        elif step in ("handle", "short_handle"):
            seconds = 120 if step == "handle" else 0  # a span under a second is discarded
            services.handling_record(
                conversation=conversation,
                agent=agent,
                started_at=began,
                ended_at=began + dt.timedelta(seconds=seconds),
            )
        else:
            status = "resolved" if step == "resolve" else "open"
            services.conversation_set_status(conversation=conversation, status=status, actor=actor)
    conversation.refresh_from_db()
    return conversation


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(threads=st.lists(st.lists(st.sampled_from(STEPS), max_size=8), min_size=1, max_size=5))
def test_the_flags_the_services_keep_select_what_the_facts_count(
    db: Any, threads: list[list[str]]
) -> None:
    workspace = WorkspaceFactory()  # one per example: a failing example names its own threads
    agent = UserFactory()
    MembershipFactory(workspace=workspace, user=agent, role="agent")
    for steps in threads:
        _thread(workspace, agent, steps)
    filters = parse_filters({}, workspace=workspace)
    now = timezone.now()
    facts = filtered_facts(workspace=workspace, filters=filters)

    for name in ("handled", "bot_resolved", "all", "answered", "resolved", "reopened"):
        counted = subset(facts, name, now=now)
        _, count, rows = drill.drill_conversations(
            workspace=workspace, filters=filters, name=name, now=now
        )
        assert count == len(counted), name
        assert [row.pk for row in rows] == _newest_first(counted), name
    # The migration's backfill finds the same flags the services set.
    mine = Conversation.objects.filter(workspace=workspace).order_by("pk")
    kept = list(mine.values_list("pk", *FLAGS))
    mine.update(**dict.fromkeys(FLAGS, False))
    _backfill()
    assert list(mine.values_list("pk", *FLAGS)) == kept
