"""Contract tests: every frame type the widget can receive, and every realtime event the widget
publishes to agents, produced for real and checked against its declared schema."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from ascolto.connectors.webchat import services
from ascolto.connectors.webchat.events import VISITOR_TYPING
from ascolto.connectors.webchat.protocol import (
    SERVER_MESSAGES,
    ProtocolError,
    client_id_of,
    validate_server_message,
)
from ascolto.core import realtime
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from tests.connectors.webchat.conftest import AgentFeed, Widget, make_article


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_whole_chat_produces_every_frame_type_each_matching_its_schema(
    app, widget, agent, actor
):
    # Widget.receive validates every frame against SERVER_MESSAGES as it arrives.
    await database_sync_to_async(make_article)(
        widget.workspace, actor, "returns", {"en": ("Return an item", "Return it in 30 days.")}
    )
    tab = Widget(app, widget)
    token = (await tab.open())["token"]
    await tab.send({"type": "suggest", "client_id": "c1", "text": "return an item"})
    offered = await tab.receive("suggestions")
    assert offered["articles"]
    await tab.send({"type": "deflected", "offer_id": offered["offer_id"]})
    await tab.receive("deflected")
    said = await tab.say("Hello")
    await tab.send({"type": "sync", "last_id": 0})
    await tab.receive("sync")
    await tab.send({"type": "ping"})
    await tab.receive("pong")
    await tab.send({"type": "email", "email": "noa@example.com"})
    await tab.receive("email_saved")

    @database_sync_to_async
    def agent_side(step: str) -> None:
        conversation = Conversation.objects.get()
        actor = Actor.for_user(agent)
        with transaction.atomic():
            if step == "typing":
                services.agent_typing(conversation=conversation, user=agent, typing=True)
            elif step == "reply":
                inbox_services.message_send(
                    conversation=conversation, author=agent, actor=actor, text="Ciao"
                )
            else:
                inbox_services.conversation_set_status(
                    conversation=conversation, status="resolved", actor=actor
                )

    async with AgentFeed(widget.workspace_id) as agents:
        await tab.send({"type": "typing", "typing": True})
        typing = await agents.next(VISITOR_TYPING)
    assert typing["conversation_id"] == said["message"]["conversation_id"]
    for step, expected in (("typing", "typing"), ("reply", "message"), ("end", "ended")):
        await agent_side(step)
        await tab.receive(expected)
    await tab.send({"type": "nonsense"})
    await tab.receive("error")

    assert {f["type"] for f in tab.frames} == set(SERVER_MESSAGES)
    assert token


def test_the_typing_event_is_declared_for_the_agents_console():
    assert realtime.event_schemas()[VISITOR_TYPING] == {"conversation_id": int, "typing": bool}
    realtime.validate_event(VISITOR_TYPING, {"conversation_id": 1, "typing": False})
    with pytest.raises(realtime.InvalidEvent):
        realtime.validate_event(VISITOR_TYPING, {"conversation_id": 1})


MESSAGE = {
    "id": 1,
    "conversation_id": 2,
    "kind": "agent",
    "text": "Ciao",
    "author": "Giulia",
    "created_at": "2026-02-03T10:00:00+00:00",
    "client_id": "",
    "attachments": [{"name": "a.png", "size": 3, "content_type": "image/png", "url": "/x"}],
}


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "nope"},
        {"type": "pong", "extra": 1},
        {"type": "typing", "typing": "yes", "author": ""},
        {"type": "ended", "conversation_id": True, "survey_url": ""},
        {"type": "message", "message": {**MESSAGE, "html": "<b>x</b>"}},
        {"type": "message", "message": {k: v for k, v in MESSAGE.items() if k != "author"}},
        {"type": "message", "message": {**MESSAGE, "attachments": [{"name": "a"}]}},
        {"type": "sync", "messages": [{"id": 1}], "has_more": False},
        {"type": "suggestions", "client_id": "", "offer_id": 1, "articles": ["a"]},
        {"type": "suggestions", "client_id": "", "offer_id": 1, "articles": [{"title": "a"}]},
        {"type": "deflected", "offer_id": "1"},
    ],
)
def test_frames_that_break_the_contract_are_refused(frame):
    with pytest.raises(ProtocolError):
        validate_server_message(frame)


def test_a_well_formed_message_frame_passes():
    assert validate_server_message({"type": "message", "message": MESSAGE})


def test_client_ids_round_trip_through_the_provider_id():
    client_id = str(uuid.uuid4())
    inbound = Message(kind="inbound", provider_id=f"webchat:visitor-1:{client_id}")
    assert client_id_of(inbound) == client_id
    assert client_id_of(Message(kind="inbound", provider_id="SM123")) == ""
    assert client_id_of(Message(kind="outbound", provider_id="webchat:out:5")) == ""
