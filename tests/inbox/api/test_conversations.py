"""Conversations over the API: console views and filters, keyset pages, the detail with the
customer's summary, and every state change an agent makes (status, assignment and transfer,
priority, tags, handling time)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.inbox import services
from ascolto.inbox.models import Conversation, ConversationEvent, HandlingInterval
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.api.conftest import start_conversation
from tests.inbox.factories import InboxFactory


def ids(response):
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def colleague(workspace):
    user = UserFactory(username="marco")
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


# --- Lists ------------------------------------------------------------------------------------


def test_views_filter_by_who_has_the_conversation(api, workspace, inbox, agent, colleague):
    team = TeamFactory(workspace=workspace)
    team.members.add(agent)
    mine = start_conversation(inbox, CustomerFactory(workspace=workspace))
    theirs = start_conversation(inbox, CustomerFactory(workspace=workspace))
    waiting = start_conversation(inbox, CustomerFactory(workspace=workspace))
    teams = start_conversation(inbox, CustomerFactory(workspace=workspace))
    actor = Actor.for_user(agent)
    services.conversation_assign(conversation=mine, actor=actor, assignee=agent)
    services.conversation_assign(conversation=theirs, actor=actor, assignee=colleague)
    services.conversation_assign(conversation=teams, actor=actor, assignee=colleague, team=team)

    assert ids(api.get("conversations", view="mine")) == [mine.pk]
    assert ids(api.get("conversations", view="unassigned")) == [waiting.pk]
    assert ids(api.get("conversations", view="my_teams")) == [teams.pk]
    assert set(ids(api.get("conversations"))) == {mine.pk, theirs.pk, waiting.pk, teams.pk}
    assert ids(api.get("conversations", assignee_id=colleague.pk)) == [teams.pk, theirs.pk]
    assert ids(api.get("conversations", team_id=team.pk)) == [teams.pk]


def test_high_value_and_mentions_views(api, workspace, inbox, agent, colleague):
    gold = start_conversation(inbox, CustomerFactory(workspace=workspace, value_tier="gold"))
    plain = start_conversation(inbox, CustomerFactory(workspace=workspace, value_tier="bronze"))
    services.note_add(
        conversation=plain,
        author=colleague,
        text="@" + agent.username + " can you look?",
        actor=Actor.for_user(colleague),
    )

    assert ids(api.get("conversations", view="high_value")) == [gold.pk]
    assert ids(api.get("conversations", view="mentions")) == [plain.pk]


def test_filters_by_status_channel_inbox_tag_priority_language(api, workspace, inbox, agent):
    email = InboxFactory(workspace=workspace, channel="email")
    actor = Actor.for_user(agent)
    open_chat = start_conversation(inbox, CustomerFactory(workspace=workspace, locale="he"))
    resolved = start_conversation(inbox, CustomerFactory(workspace=workspace))
    services.conversation_set_status(conversation=resolved, status="resolved", actor=actor)
    pending = start_conversation(email, CustomerFactory(workspace=workspace))
    services.conversation_set_status(conversation=pending, status="pending", actor=actor)
    services.conversation_set_tags(conversation=open_chat, names=["Refund"], actor=actor)
    services.conversation_set_priority(conversation=open_chat, priority=3, actor=actor)

    assert ids(api.get("conversations")) == [open_chat.pk]  # open is the default
    assert ids(api.get("conversations", status="resolved")) == [resolved.pk]
    assert set(ids(api.get("conversations", status="active"))) == {open_chat.pk, pending.pk}
    assert len(ids(api.get("conversations", status="any"))) == 3
    assert ids(api.get("conversations", status="any", channel="email")) == [pending.pk]
    assert ids(api.get("conversations", status="any", inbox_id=email.pk)) == [pending.pk]
    assert ids(api.get("conversations", tag="refund")) == [open_chat.pk]
    assert ids(api.get("conversations", priority="urgent")) == [open_chat.pk]
    assert ids(api.get("conversations", priority="normal")) == []
    assert ids(api.get("conversations", language="he")) == [open_chat.pk]


def test_search_matches_messages_subject_customer_and_identities(api, workspace, inbox):
    dana = CustomerFactory(workspace=workspace, name="Dana Levi")
    IdentityFactory(customer=dana, value="dana@shop.example")
    by_customer = start_conversation(inbox, dana, text="Hello")
    by_message = start_conversation(
        inbox, CustomerFactory(workspace=workspace), text="My parcel 4411 is late"
    )
    start_conversation(inbox, CustomerFactory(workspace=workspace), text="Something else")

    assert ids(api.get("conversations", search="parcel 4411")) == [by_message.pk]
    assert ids(api.get("conversations", search="Levi")) == [by_customer.pk]
    assert ids(api.get("conversations", search="dana@shop")) == [by_customer.pk]


def test_pages_follow_the_cursor_without_gaps_or_repeats(api, workspace, inbox):
    created = [start_conversation(inbox, CustomerFactory(workspace=workspace)).pk for _ in range(5)]

    first = api.get("conversations", limit=2).json()
    second = api.get("conversations", limit=2, cursor=first["next"]).json()
    third = api.get("conversations", limit=2, cursor=second["next"]).json()

    seen = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert seen == list(reversed(created))  # most recent activity first
    assert third["next"] is None


def test_bad_list_parameters_are_422(api):
    assert_problem(api.get("conversations", cursor="not-a-cursor"), 422, "validation_failed")
    assert_problem(api.get("conversations", view="everything"), 422, "validation_failed")
    assert_problem(api.get("conversations", status="lost"), 422, "validation_failed")
    assert_problem(api.get("conversations", limit=101), 422, "validation_failed")
    assert_problem(api.get("conversations", priority="3"), 422, "validation_failed")


def test_detail_has_the_customer_summary(api, conversation, customer):
    body = api.get(f"conversations/{conversation.pk}").json()

    assert body["customer"]["id"] == customer.pk
    assert body["customer"]["name"] == "Dana Levi"
    assert body["customer"]["value_tier"] == "gold"
    assert body["customer"]["identities"] == [{"kind": "email", "value": "dana@example.com"}]
    assert body["customer"]["lifetime_spend"] == "0.00"
    assert body["inbox"]["name"] == "Shop chat"
    assert body["status"] == "open"
    assert body["first_customer_message_at"] is not None
    assert body["message_count"] == 1


# --- Status ---------------------------------------------------------------------------------


def test_resolve_pending_close_and_reopen(api, conversation):
    path = f"conversations/{conversation.pk}/status"

    pending = api.post(path, {"status": "pending", "reason": "asked for the order number"})
    resolved = api.post(path, {"status": "resolved"})
    reopened = api.post(path, {"status": "open", "reason": "customer called"})
    closed = api.post(path, {"status": "closed"})

    assert pending.json()["status"] == "pending"
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    assert reopened.json()["status"] == "open"
    assert reopened.json()["reopen_count"] == 1
    assert closed.json()["closed_at"] is not None
    kinds = list(
        ConversationEvent.objects.filter(conversation=conversation)
        .exclude(kind="created")
        .values_list("kind", "to_value", "reason")
    )
    assert kinds == [
        ("status", "pending", "asked for the order number"),
        ("status", "resolved", ""),
        ("reopened", "open", "customer called"),
        ("status", "closed", ""),
    ]


def test_snooze_until_a_time(api, conversation):
    until = timezone.now() + dt.timedelta(hours=3)

    body = api.post(
        f"conversations/{conversation.pk}/status",
        {"status": "snoozed", "snoozed_until": until.isoformat()},
    ).json()

    assert body["status"] == "snoozed"
    # JSON times carry milliseconds.
    assert abs(dt.datetime.fromisoformat(body["snoozed_until"]) - until) < dt.timedelta(
        milliseconds=1
    )
    conversation.refresh_from_db()
    assert conversation.snoozed_until == until


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "snoozed"}, "snoozed_until"),
        ({"status": "snoozed", "snoozed_until": "2001-01-01T00:00:00Z"}, "snoozed_until"),
        ({"status": "resolved", "snoozed_until": "2099-01-01T00:00:00Z"}, "snoozed_until"),
        ({"status": "snoozed", "snoozed_until": "2099-01-01T00:00:00"}, "snoozed_until"),
        ({"status": "archived"}, "status"),
        ({"status": "resolved", "colour": "red"}, "colour"),
    ],
)
def test_bad_status_changes_are_422_and_change_nothing(api, conversation, body, field):
    response = api.post(f"conversations/{conversation.pk}/status", body)

    problem = assert_problem(response, 422, "validation_failed")
    assert field in problem["errors"]
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert not ConversationEvent.objects.filter(conversation=conversation, kind="status").exists()


# --- Assignment and transfer ----------------------------------------------------------------


def test_assign_transfer_with_reason_and_unassign(api, workspace, conversation, agent, colleague):
    team = TeamFactory(workspace=workspace, name="Returns")
    path = f"conversations/{conversation.pk}/assignment"

    assigned = api.post(path, {"assignee_id": agent.pk})
    transferred = api.post(
        path, {"assignee_id": colleague.pk, "team_id": team.pk, "reason": "returns expert"}
    )
    unassigned = api.post(path, {"assignee_id": None, "reason": "back to the queue"})

    assert assigned.json()["assignee"]["id"] == agent.pk
    body = transferred.json()
    assert body["assignee"] == {
        "id": colleague.pk,
        "username": "marco",
        "name": "Giulia " + colleague.last_name,
    }
    assert body["team"] == {"id": team.pk, "name": "Returns"}
    assert body["transfer_count"] == 1
    assert unassigned.json()["assignee"] is None
    history = api.get(f"conversations/{conversation.pk}/events").json()
    moves = [(e["kind"], e["to_value"], e["reason"]) for e in history if e["kind"] != "created"]
    assert moves == [
        ("assigned", str(agent.pk), ""),
        ("transferred", str(colleague.pk), "returns expert"),
        ("transferred", "", "back to the queue"),
    ]
    assert all(e["actor"]["id"] == agent.pk for e in history if e["kind"] != "created")


def test_assignment_needs_the_assignee_key(api, conversation):
    problem = assert_problem(
        api.post(f"conversations/{conversation.pk}/assignment", {}), 422, "validation_failed"
    )
    assert "assignee_id" in problem["errors"]


def test_a_user_who_is_not_a_member_cannot_be_assigned(api, conversation):
    outsider = UserFactory()

    problem = assert_problem(
        api.post(f"conversations/{conversation.pk}/assignment", {"assignee_id": outsider.pk}),
        404,
        "not_found",
    )

    assert problem["errors"] == {"assignee_id": ["No such member."]}
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


# --- Priority, tags, handling time ----------------------------------------------------------


def test_priority_and_tags(api, conversation):
    priority = api.post(
        f"conversations/{conversation.pk}/priority", {"priority": "high", "reason": "VIP"}
    )
    tags = api.put(f"conversations/{conversation.pk}/tags", {"tags": ["Refund", "late ", "refund"]})
    cleared = api.put(f"conversations/{conversation.pk}/tags", {"tags": []})

    assert priority.json()["priority"] == "high"
    assert Conversation.objects.get(pk=conversation.pk).priority == 2
    assert tags.json() == {"tags": ["late", "refund"]}
    assert cleared.json() == {"tags": []}
    assert api.get(f"conversations/{conversation.pk}").json()["tags"] == []
    assert_problem(
        api.post(f"conversations/{conversation.pk}/priority", {"priority": 9}),
        422,
        "validation_failed",
    )


def test_handling_spans_are_recorded_for_the_calling_agent(api, conversation, agent):
    start = timezone.now() - dt.timedelta(minutes=5)
    path = f"conversations/{conversation.pk}/handling"

    recorded = api.post(
        path,
        {
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(seconds=95)).isoformat(),
        },
    )
    noise = api.post(
        path,
        {
            "started_at": start.isoformat(),
            "ended_at": (start + dt.timedelta(milliseconds=300)).isoformat(),
        },
    )
    backwards = api.post(
        path,
        {
            "started_at": start.isoformat(),
            "ended_at": (start - dt.timedelta(seconds=5)).isoformat(),
        },
    )

    assert recorded.status_code == 201
    assert recorded.json()["recorded"] is True
    assert recorded.json()["seconds"] == 95
    interval = HandlingInterval.objects.get()
    assert interval.agent == agent
    assert interval.pk == recorded.json()["id"]
    assert noise.status_code == 200
    assert noise.json() == {"recorded": False, "id": None, "seconds": 0.3}
    assert assert_problem(backwards, 422)["errors"] == {"ended_at": ["Must be after `started_at`."]}
    assert HandlingInterval.objects.count() == 1


# --- Permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("status", {"status": "resolved"}),
        ("assignment", {"assignee_id": None}),
        ("priority", {"priority": "low"}),
        ("tags", {"tags": ["x"]}),
        ("messages", {"text": "hello"}),
        ("notes", {"text": "hello"}),
    ],
)
def test_analysts_read_but_do_not_change_conversations(member, conversation, path, body):
    analyst = member("analyst")
    method = analyst.put if path == "tags" else analyst.post

    assert analyst.get(f"conversations/{conversation.pk}").status_code == 200
    assert_problem(method(f"conversations/{conversation.pk}/{path}", body), 403, "forbidden")
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert conversation.message_count == 1


def test_without_a_token_it_is_401(conversation):
    from tests.api.conftest import ApiClient

    assert_problem(ApiClient().get("conversations"), 401, "not_authenticated")
