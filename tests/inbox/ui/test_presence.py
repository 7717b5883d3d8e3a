"""Collision detection over ws/inbox/: agents see who else views or types in a conversation of
their workspace, and nobody else sees anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from ascolto.config.asgi import application
from ascolto.inbox.consumers import InboxPresenceConsumer
from ascolto.inbox.presence import presence_of
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.inbox.ui.conftest import start

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


class Tab:
    """An agent's console tab on the presence socket (the user set as the session would)."""

    def __init__(self, user: Any, workspace_id: int) -> None:
        self.user = user
        self.ws = WebsocketCommunicator(
            InboxPresenceConsumer.as_asgi(), f"/ws/inbox/?workspace={workspace_id}"
        )
        self.ws.scope["user"] = user

    async def __aenter__(self) -> Tab:
        connected, code = await self.ws.connect()
        assert connected, code
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.disconnect()

    async def send(self, **message: Any) -> None:
        await self.ws.send_to(text_data=json.dumps(message))

    async def receive(self, timeout: float = 3) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await self.ws.receive_from(timeout))
        return frame

    async def presence(self, conversation_id: int) -> list[dict[str, Any]]:
        """The next presence frame about this conversation (others are skipped)."""
        while True:
            frame = await self.receive()
            if frame["type"] == "presence" and frame["conversation_id"] == conversation_id:
                agents: list[dict[str, Any]] = frame["agents"]
                return agents

    async def nothing(self) -> bool:
        return bool(await self.ws.receive_nothing(0.3))


@pytest.fixture(autouse=True)
def _close_socket_connections() -> Iterator[None]:
    # The consumers query the database in asgiref's thread; a connection kept open there (up to
    # CONN_MAX_AGE on PostgreSQL) would keep the test database from being dropped at the end.
    database = connections.settings[DEFAULT_DB_ALIAS]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    database["CONN_MAX_AGE"] = max_age


@pytest_asyncio.fixture(autouse=True)
async def _fresh_cache() -> AsyncIterator[None]:
    await cache.aclear()
    yield
    await cache.aclear()


def _setup(workspace: Any, other_workspace: Any) -> dict[str, Any]:
    anna = UserFactory(first_name="Anna", last_name="Ferri")
    marco = UserFactory(first_name="Marco", last_name="Conti")
    outsider = UserFactory(first_name="Olga", last_name="Vance")
    MembershipFactory(workspace=workspace, user=anna)
    MembershipFactory(workspace=workspace, user=marco)
    MembershipFactory(workspace=other_workspace, user=outsider)
    conversation = start(InboxFactory(workspace=workspace), CustomerFactory(workspace=workspace))
    return {"anna": anna, "marco": marco, "outsider": outsider, "conversation": conversation}


@pytest_asyncio.fixture
async def team(workspace: Any, other_workspace: Any) -> dict[str, Any]:
    return await sync_to_async(_setup)(workspace, other_workspace)


async def test_two_agents_see_each_other_viewing_and_typing(
    team: dict[str, Any], workspace: Any
) -> None:
    conversation_id = team["conversation"].pk
    async with Tab(team["anna"], workspace.pk) as anna, Tab(team["marco"], workspace.pk) as marco:
        await anna.send(type="viewing", conversation_id=conversation_id)
        assert await anna.presence(conversation_id) == []  # nobody else yet
        seen_by_marco = await marco.presence(conversation_id)
        assert seen_by_marco == [
            {"user_id": team["anna"].pk, "name": "Anna Ferri", "state": "viewing"}
        ]

        await marco.send(type="viewing", conversation_id=conversation_id)
        assert await anna.presence(conversation_id) == [
            {"user_id": team["marco"].pk, "name": "Marco Conti", "state": "viewing"}
        ]
        await marco.presence(conversation_id)

        await marco.send(type="typing", conversation_id=conversation_id)
        assert await anna.presence(conversation_id) == [
            {"user_id": team["marco"].pk, "name": "Marco Conti", "state": "typing"}
        ]
        assert await marco.presence(conversation_id) == [  # his own frame, without himself
            {"user_id": team["anna"].pk, "name": "Anna Ferri", "state": "viewing"}
        ]

        # A heartbeat changes nothing others see: no new frame for anyone.
        await anna.send(type="viewing", conversation_id=conversation_id)
        assert await marco.nothing()
        assert await anna.nothing()

        await marco.send(type="leave")
        assert await anna.presence(conversation_id) == []
    assert await presence_of(workspace_id=workspace.pk, conversation_id=conversation_id) == []


async def test_closing_the_tab_removes_the_agent(team: dict[str, Any], workspace: Any) -> None:
    conversation_id = team["conversation"].pk
    async with Tab(team["anna"], workspace.pk) as anna:
        marco = Tab(team["marco"], workspace.pk)
        await marco.__aenter__()
        await marco.send(type="viewing", conversation_id=conversation_id)
        assert [a["name"] for a in await anna.presence(conversation_id)] == ["Marco Conti"]

        await marco.__aexit__()

        assert await anna.presence(conversation_id) == []


async def test_an_agent_of_another_workspace_sees_nothing(
    team: dict[str, Any], workspace: Any, other_workspace: Any
) -> None:
    conversation_id = team["conversation"].pk
    async with (
        Tab(team["outsider"], other_workspace.pk) as outsider,
        Tab(team["anna"], workspace.pk) as anna,
    ):
        await anna.send(type="viewing", conversation_id=conversation_id)
        await anna.presence(conversation_id)
        assert await outsider.nothing()

        # Naming a conversation of another workspace is refused and announces nothing.
        await outsider.send(type="viewing", conversation_id=conversation_id)
        assert await outsider.receive() == {"type": "error", "code": "unknown_conversation"}
        assert await anna.nothing()


async def test_only_members_may_open_the_socket(
    team: dict[str, Any], workspace: Any, other_workspace: Any, settings: Any
) -> None:
    # Refusal happens before the consumer uses its channel layer: an in-memory layer keeps the
    # refused sockets' idle receive loops off Redis, whose pending receives could hold up the
    # event loop's teardown.
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    refused = [
        (team["outsider"], workspace.pk),  # a member of another workspace
        (team["anna"], other_workspace.pk),
        (team["anna"], "abc"),
    ]
    for user, workspace_id in refused:
        ws = WebsocketCommunicator(
            InboxPresenceConsumer.as_asgi(), f"/ws/inbox/?workspace={workspace_id}"
        )
        ws.scope["user"] = user
        connected, _ = await ws.connect()
        assert not connected
        await ws.disconnect()


def _session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(type(user).objects.get(pk=user.pk))
    return (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )


async def test_the_routed_socket_uses_the_session(team: dict[str, Any], workspace: Any) -> None:
    origin = (b"origin", b"http://127.0.0.1:8000")
    path = f"/ws/inbox/?workspace={workspace.pk}"
    anonymous = WebsocketCommunicator(application, path, headers=[origin])
    assert not (await anonymous.connect())[0]

    cookie = await sync_to_async(_session_cookie)(team["anna"])
    signed_in = WebsocketCommunicator(application, path, headers=[origin, cookie])
    connected, _ = await signed_in.connect()
    assert connected
    await signed_in.send_json_to({"type": "ping"})
    assert await signed_in.receive_json_from() == {"type": "pong"}
    await signed_in.disconnect()


async def test_bad_messages_get_an_error(team: dict[str, Any], workspace: Any) -> None:
    async with Tab(team["anna"], workspace.pk) as anna:
        await anna.send(type="dance")
        assert await anna.receive() == {"type": "error", "code": "unknown_message"}
        await anna.send(type="viewing", conversation_id="12; DROP")
        assert await anna.receive() == {"type": "error", "code": "unknown_conversation"}
        await anna.send(type="typing", conversation_id=True)
        assert await anna.receive() == {"type": "error", "code": "unknown_conversation"}
