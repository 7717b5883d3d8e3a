"""Cross-workspace isolation of the inbox API and the API channel: a token of workspace A never
sees nor touches workspace B.

Every id of B (inbox, conversation, message, team, user, provider id) gets the same 404 as an
id that does not exist, for reads and for writes, and B's rows are unchanged afterwards. Filters
naming B's ids find nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.forms.models import model_to_dict

from ascolto.accounts.models import Team
from ascolto.connectors.api_channel import services as channel_services
from ascolto.core.actors import Actor
from ascolto.core.models import AuditLogEntry, OutboxEvent
from ascolto.customers.models import Activity, Customer, Identity
from ascolto.inbox import services
from ascolto.inbox.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    HandlingInterval,
    Inbox,
    Mention,
    Message,
    Tag,
)
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory

MODELS = [
    Inbox,
    Conversation,
    Message,
    ConversationEvent,
    HandlingInterval,
    Attachment,
    Tag,
    Team,
    Customer,
    Identity,
    Activity,
    OutboxEvent,
    AuditLogEntry,
]


def snapshot(workspace: Any) -> dict[str, list[dict[str, Any]]]:
    state = {
        model.__name__: [
            model_to_dict(row) for row in model.objects.filter(workspace=workspace).order_by("pk")
        ]
        for model in MODELS
    }
    state["Mention"] = [
        model_to_dict(m)
        for m in Mention.objects.filter(message__workspace=workspace).order_by("pk")
    ]
    state["TeamMembers"] = sorted(
        Team.members.through.objects.filter(team__workspace=workspace).values_list(
            "team_id", "user_id"
        )
    )
    state["ConversationTags"] = sorted(
        Conversation.tags.through.objects.filter(conversation__workspace=workspace).values_list(
            "conversation_id", "tag_id"
        )
    )
    return state


@pytest.fixture
def theirs(other_workspace):
    """Workspace B with an inbox, an API inbox, a team, an agent and a busy conversation."""
    agent = UserFactory(username="b-agent")
    MembershipFactory(workspace=other_workspace, user=agent, role="agent")
    actor = Actor.for_user(agent)
    team = TeamFactory(workspace=other_workspace, name="B team")
    team.members.add(agent)
    inbox = InboxFactory(workspace=other_workspace, name="B chat")
    api_inbox, _ = channel_services.api_inbox_create(
        workspace=other_workspace, name="B shop", actor=actor, webhook_url="http://127.0.0.1:9/"
    )
    customer = CustomerFactory(workspace=other_workspace, name="Bruno Bianchi")
    IdentityFactory(customer=customer, value="bruno@example.com")
    received = services.message_receive(
        inbox=api_inbox, customer=customer, text="secret parcel 9911", provider_id="b-1"
    )
    conversation = received.conversation
    services.conversation_assign(conversation=conversation, actor=actor, assignee=agent, team=team)
    services.conversation_set_tags(conversation=conversation, names=["vip"], actor=actor)
    reply = services.message_send(conversation=conversation, author=agent, actor=actor, text="ok")
    services.message_mark_sent(message=reply, provider_id=f"ascolto:out:{reply.pk}")
    services.note_add(conversation=conversation, author=agent, text="note", actor=actor)
    return {
        "inbox": inbox.pk,
        "api_inbox": api_inbox.pk,
        "conversation": conversation.pk,
        "message": received.message.pk,
        "reply": reply.pk,
        "team": team.pk,
        "user": agent.pk,
    }


@pytest.fixture
def mine(workspace, admin_user):
    inbox = InboxFactory(workspace=workspace, name="A chat")
    api_inbox, _ = channel_services.api_inbox_create(
        workspace=workspace, name="A shop", actor=Actor.for_user(admin_user)
    )
    customer = CustomerFactory(workspace=workspace)
    conversation = services.message_receive(inbox=inbox, customer=customer, text="hi").conversation
    return {"conversation": conversation.pk, "api_inbox": api_inbox.pk, "inbox": inbox.pk}


SPAN = {"started_at": "2025-01-01T10:00:00Z", "ended_at": "2025-01-01T10:05:00Z"}
INGEST = {
    "provider_id": "a-1",
    "customer": {"kind": "email", "value": "bruno@example.com"},
    "text": "hello",
}

# (method, path, body) with {conversation}, {inbox}, ... of B and {mine_*} of A.
FOREIGN_ID_REQUESTS = [
    ("get", "inboxes/{inbox}", None),
    ("get", "inboxes/{api_inbox}", None),
    ("get", "conversations/{conversation}", None),
    ("get", "conversations/{conversation}/messages", None),
    ("get", "conversations/{conversation}/events", None),
    ("get", "messages/{message}", None),
    ("get", "messages/{reply}", None),
    ("post", "conversations/{conversation}/messages", {"text": "hijack"}),
    ("post", "conversations/{conversation}/notes", {"text": "hijack"}),
    ("post", "conversations/{conversation}/status", {"status": "closed"}),
    ("post", "conversations/{conversation}/assignment", {"assignee_id": None}),
    ("post", "conversations/{conversation}/priority", {"priority": "urgent"}),
    ("put", "conversations/{conversation}/tags", {"tags": ["spam"]}),
    ("post", "conversations/{conversation}/handling", SPAN),
    ("post", "conversations/{mine_conversation}/assignment", {"assignee_id": "{user}"}),
    (
        "post",
        "conversations/{mine_conversation}/assignment",
        {"assignee_id": None, "team_id": "{team}"},
    ),
    ("post", "inboxes", {"name": "New", "channel": "email", "team_id": "{team}"}),
    ("post", "channels/api/inboxes", {"name": "New", "team_id": "{team}"}),
    ("post", "channels/api/{api_inbox}/messages", INGEST),
    ("post", "channels/api/{api_inbox}/messages/bulk", {"items": [INGEST]}),
    ("post", "channels/api/{api_inbox}/delivery", {"provider_id": "b-1", "status": "read"}),
    (
        "post",
        "channels/api/{mine_api_inbox}/delivery",
        {"provider_id": "ascolto:out:{reply}", "status": "read"},
    ),
    ("get", "channels/api/{api_inbox}/webhook", None),
    ("put", "channels/api/{api_inbox}/webhook", {"webhook_url": "https://evil.example/"}),
]


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN_ID_REQUESTS)
def test_foreign_ids_are_404_like_unknown_ones_and_change_nothing(
    admin_api, theirs, mine, other_workspace, method, path, body
):
    own = {f"mine_{key}": value for key, value in mine.items()}
    ids = {**theirs, **own}
    unknown = {key: 987_654_321 for key in theirs} | own
    before = snapshot(other_workspace)

    args = () if body is None else (fill(body, ids),)
    foreign = getattr(admin_api, method)(fill(path, ids), *args)
    args = () if body is None else (fill(body, unknown),)
    missing = getattr(admin_api, method)(fill(path, unknown), *args)

    foreign_doc = assert_problem(foreign, 404, "not_found")
    missing_doc = assert_problem(missing, 404, "not_found")

    def neutral(doc: dict[str, Any]) -> str:
        return re.sub(r"\d+", "<id>", repr({k: doc[k] for k in ("title", "detail", "errors")}))

    assert neutral(foreign_doc) == neutral(missing_doc)
    assert snapshot(other_workspace) == before


def test_filters_and_search_never_reach_another_workspace(admin_api, theirs, mine, other_workspace):
    before = snapshot(other_workspace)

    def found(**params: Any) -> list[int]:
        response = admin_api.get("conversations", status="any", **params)
        assert response.status_code == 200
        return [c["id"] for c in response.json()["items"]]

    assert found() == [mine["conversation"]]
    assert found(inbox_id=theirs["inbox"]) == []
    assert found(inbox_id=theirs["api_inbox"]) == []
    assert found(team_id=theirs["team"]) == []
    assert found(assignee_id=theirs["user"]) == []
    assert found(search="parcel 9911") == []
    assert found(search="bruno@example.com") == []
    assert found(tag="vip") == []
    inboxes = {i["id"] for i in admin_api.get("inboxes").json()}
    assert inboxes == {mine["inbox"], mine["api_inbox"]}
    resync = admin_api.get(
        f"conversations/{mine['conversation']}/messages", after=0, limit=200
    ).json()
    assert {m["conversation_id"] for m in resync["items"]} == {mine["conversation"]}
    assert snapshot(other_workspace) == before


def test_identities_and_provider_ids_are_per_workspace(
    admin_api, theirs, mine, other_workspace, workspace
):
    before = snapshot(other_workspace)
    body = {**INGEST, "provider_id": "b-1"}  # B's provider id and B's customer's email

    response = admin_api.post(f"channels/api/{mine['api_inbox']}/messages", body)

    assert response.status_code == 201  # a new message of A, not B's "b-1"
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.workspace == workspace
    assert message.author_customer is not None
    assert message.author_customer.workspace == workspace  # a new customer of A
    assert snapshot(other_workspace) == before


def test_b_sees_its_conversation_intact_through_its_own_token(other_api, theirs):
    body = other_api.get(f"conversations/{theirs['conversation']}").json()

    assert body["customer"]["name"] == "Bruno Bianchi"
    assert body["tags"] == ["vip"]
    assert body["team"]["name"] == "B team"
