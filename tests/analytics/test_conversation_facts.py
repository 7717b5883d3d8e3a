import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ascolto.analytics import service_metrics as m
from ascolto.analytics.selectors import conversation_facts
from ascolto.inbox import services
from ascolto.inbox.models import Conversation
from tests.accounts.factories import TeamFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


def test_facts_from_a_real_conversation(
    workspace, other_workspace, agent, actor, django_assert_max_num_queries
):
    inbox = InboxFactory(workspace=workspace)
    customer = CustomerFactory(workspace=workspace)
    start = timezone.now() - dt.timedelta(minutes=5)
    conversation = services.message_receive(
        inbox=inbox, customer=customer, text="q", occurred_at=start
    ).conversation
    services.note_add(conversation=conversation, author=agent, actor=actor, text="looking")
    services.message_send(conversation=conversation, author=agent, actor=actor, text="a")
    services.conversation_set_status(conversation=conversation, status="resolved", actor=actor)
    services.handling_record(
        conversation=conversation,
        agent=agent,
        started_at=start,
        ended_at=start + dt.timedelta(minutes=2),
    )
    foreign_inbox = InboxFactory(workspace=other_workspace)
    services.message_receive(
        inbox=foreign_inbox, customer=CustomerFactory(workspace=other_workspace), text="x"
    )

    # conversations (with their customers coming back, FCR), what the messages tell, handling
    with django_assert_max_num_queries(3):
        facts = conversation_facts(
            workspace=workspace,
            start=start - dt.timedelta(hours=1),
            end=timezone.now() + dt.timedelta(seconds=1),
        )

    assert [f.id for f in facts] == [conversation.pk]
    fact = facts[0]
    # The messages are summarised by the database, not read: the first reply answers the first
    # wait (a first response, not a next one); the note is no reply.
    assert fact.messages == []
    assert fact.answered_waits == []
    assert m.next_response_times(fact) == []
    assert fact.bot_resolved is False
    assert m.first_response_time(fact) > 0
    assert m.resolution_time(fact) is not None
    assert m.handle_time(fact) == 120


def test_three_filters_with_a_team_read_the_facts_from_the_index_alone(workspace, actor):
    """The facts' conversation read, filtered by team, channel and language, is an index-only
    scan of conv_team_started_idx: every column it reads is included (inbox.models
    FACT_COLUMNS). A column read but not included would make it read the rows again."""
    if connection.vendor != "postgresql":
        pytest.skip("index-only scans are PostgreSQL's; run with DATABASE_URL=postgres://")
    team = TeamFactory(workspace=workspace)
    inbox = InboxFactory(workspace=workspace, channel="email")
    start = timezone.now() - dt.timedelta(minutes=5)
    conversation = services.message_receive(
        inbox=inbox, customer=CustomerFactory(workspace=workspace), text="q", occurred_at=start
    ).conversation
    Conversation.objects.filter(pk=conversation.pk).update(team=team, language="he")
    # Others of other teams, channels and languages over a year, so that the planner sees a
    # table where a team's period is a small part.
    others = [TeamFactory(workspace=workspace) for _ in range(3)]
    customer = CustomerFactory(workspace=workspace)
    Conversation.objects.bulk_create(
        Conversation(
            workspace=workspace,
            inbox=inbox,
            customer=customer,
            channel=("email", "sms", "webchat")[n % 3],
            language=("en", "it", "he")[n % 3],
            team=others[n % 3],
            created_at=start - dt.timedelta(hours=n * 7),
        )
        for n in range(1500)
    )
    among = Conversation.objects.filter(
        workspace=workspace, team=team, channel="email", language="he"
    )

    with CaptureQueriesContext(connection) as queries:
        facts = conversation_facts(
            workspace=workspace,
            start=start - dt.timedelta(hours=1),
            end=timezone.now(),
            with_messages=False,
            among=among,
        )
    assert [f.id for f in facts] == [conversation.pk]
    plan = _plan_at_scale(queries.captured_queries[0]["sql"])
    assert "Index Only Scan using conv_team_started_idx" in plan, plan


def _plan_at_scale(sql: str) -> str:
    """The plan PostgreSQL takes for `sql` on large tables: the test tables are tiny, so
    sequential and bitmap scans are ruled out (as the statistics of a large table would)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_conversation")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_autovacuum_keeps_the_visibility_map_of_messages_and_conversations_current():
    """Index-only scans skip the table only for pages VACUUM marked all-visible: the message
    and conversation tables are vacuumed after 1 % new rows (inbox migration 0010)."""
    if connection.vendor != "postgresql":
        pytest.skip("autovacuum settings are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname IN ('inbox_message', 'inbox_conversation')"
        )
        options = {name: set(values or []) for name, values in cursor.fetchall()}
    assert "autovacuum_vacuum_insert_scale_factor=0.01" in options["inbox_message"]
    assert {
        "autovacuum_vacuum_insert_scale_factor=0.01",
        "autovacuum_vacuum_scale_factor=0.02",
    } <= options["inbox_conversation"]


def test_the_team_views_open_now_count_reads_the_open_conversations_index_alone(workspace, agent):
    """Open now per agent (the team view's workload column) counts the entries of
    conv_open_assignee_idx, never the rows: at 1M conversations with 200,000 open, 13 ms
    against 127 ms reading the rows."""
    if connection.vendor != "postgresql":
        pytest.skip("index-only scans are PostgreSQL's; run with DATABASE_URL=postgres://")
    from ascolto.analytics.dashboards import team
    from ascolto.analytics.dashboards.filters import DashboardFilters, period_of

    inbox = InboxFactory(workspace=workspace, channel="email")
    customer = CustomerFactory(workspace=workspace)
    Conversation.objects.bulk_create(
        Conversation(
            workspace=workspace,
            inbox=inbox,
            customer=customer,
            channel="email",
            status=("open", "pending", "resolved")[n % 3],
            assignee=agent if n % 2 else None,
        )
        for n in range(300)
    )
    # Resolved conversations of the agent's past, so that (as at scale) the open ones are a
    # small part of the agent's.
    Conversation.objects.bulk_create(
        Conversation(
            workspace=workspace,
            inbox=inbox,
            customer=customer,
            channel="email",
            status="resolved",
            assignee=agent,
        )
        for n in range(3000)
    )
    today = timezone.now().date()
    filters = DashboardFilters(period=period_of(today, today, dt.UTC))

    with CaptureQueriesContext(connection) as queries:
        _times, open_now, _capacity = team._workload(workspace, filters, timezone.now())
    assert open_now == {agent.pk: 100}
    [count] = [
        q["sql"]
        for q in queries.captured_queries
        if "GROUP BY" in q["sql"] and 'FROM "inbox_conversation"' in q["sql"]
    ]
    plan = _plan_at_scale(count)
    assert "Index Only Scan using conv_open_assignee_idx" in plan, plan
