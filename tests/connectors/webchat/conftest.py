"""Fixtures for the web chat widget: a webchat inbox with its widget set up, visitors, the
widget's ASGI app, and a listener on the agents' realtime group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

import ascolto.connectors.webchat.handlers  # noqa: F401 - registers the outbox handlers
from ascolto.connectors.webchat import services
from ascolto.connectors.webchat.config import widget_settings
from ascolto.connectors.webchat.consumers import close_database_connections
from ascolto.connectors.webchat.identity import user_hash
from ascolto.connectors.webchat.protocol import validate_server_message
from ascolto.connectors.webchat.routing import websocket_urlpatterns
from ascolto.core.actors import Actor
from ascolto.core.realtime import validate_event, workspace_group
from ascolto.helpcenter import services as helpcenter
from ascolto.helpcenter.models import Article
from ascolto.helpcenter.search import registry
from ascolto.inbox.models import Inbox

ORIGIN = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _widget_urls(settings: Any) -> Iterator[None]:
    settings.ROOT_URLCONF = "tests.connectors.webchat.urls"
    cache.clear()  # rate-limit windows must not leak from one test into the next
    # Database ids repeat between tests; a search index built in an earlier test must never
    # answer for a later one.
    registry._indexes.clear()
    # Sockets do their database work in other threads; a connection they kept open (up to
    # CONN_MAX_AGE on PostgreSQL) would keep the test database from being dropped at the end.
    database = connections.settings[DEFAULT_DB_ALIAS]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    yield
    cache.clear()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    close_database_connections()
    database["CONN_MAX_AGE"] = max_age


def make_widget(workspace: Any, **kwargs: Any) -> Inbox:
    kwargs.setdefault("allowed_origins", [ORIGIN])
    return services.webchat_inbox_create(
        workspace=workspace, name="Shop chat", actor=Actor.system("test"), **kwargs
    )


@pytest.fixture
def widget(workspace: Any) -> Inbox:
    return make_widget(workspace, title="Caffè Aurora", greeting={"en": "Hi!", "he": "שלום!"})


def make_article(
    workspace: Any, actor: Actor, slug: str, texts: dict[str, tuple[str, str]]
) -> Article:
    """A published help center article with a (title, body) per language."""
    article = helpcenter.article_create(workspace=workspace, actor=actor, slug=slug)
    for language, (title, body) in texts.items():
        helpcenter.translation_save(
            article=article, actor=actor, language=language, title=title, body_markdown=body
        )
    return helpcenter.article_publish(article=article, actor=actor)


def key_of(inbox: Inbox) -> str:
    return widget_settings(inbox.config).key


def secret_of(inbox: Inbox) -> str:
    return widget_settings(inbox.config).secret


def signed_user(inbox: Inbox, user_id: str, **extra: str) -> dict[str, str]:
    return {"id": user_id, "hash": user_hash(secret_of(inbox), user_id), **extra}


# The sockets the current test opened (`Widget`), closed when it ends (`app`).
_opened: list[WebsocketCommunicator] = []


@pytest_asyncio.fixture
async def app() -> AsyncIterator[Any]:
    """The widget's ASGI app. The sockets a test leaves open are disconnected when it ends, so
    their consumers leave through their disconnect handlers (as when a tab closes) instead of
    being cancelled with the test's event loop."""
    _opened.clear()
    yield URLRouter(websocket_urlpatterns)
    while _opened:
        socket = _opened.pop()
        with contextlib.suppress(Exception):  # refused or closed already: nothing to do
            await socket.disconnect()


class Widget:
    """A widget tab: a websocket communicator that checks every frame against the protocol."""

    def __init__(
        self,
        app: Any,
        inbox: Inbox,
        *,
        origin: str = ORIGIN,
        ip: str = "10.0.0.1",
        key: str | None = None,
    ) -> None:
        headers = [(b"host", b"cx.example.com")]
        if origin:
            headers.append((b"origin", origin.encode()))
        self.ws = WebsocketCommunicator(
            app, f"/ws/widget/?key={key if key is not None else key_of(inbox)}", headers=headers
        )
        self.ws.scope["client"] = (ip, 50000)
        self.frames: list[dict[str, Any]] = []
        _opened.append(self.ws)

    async def connect(self) -> tuple[bool, int | None]:
        connected, code = await self.ws.connect()
        return connected, code

    async def hello(self, **fields: Any) -> dict[str, Any]:
        await self.send({"type": "hello", "locale": "en", **fields})
        return await self.receive("welcome")

    async def open(self, **fields: Any) -> dict[str, Any]:
        connected, code = await self.connect()
        assert connected, code
        return await self.hello(**fields)

    async def send(self, content: dict[str, Any]) -> None:
        await self.ws.send_to(text_data=json.dumps(content))

    async def say(self, text: str, client_id: str | None = None) -> dict[str, Any]:
        client_id = client_id or str(uuid.uuid4())
        await self.send({"type": "message", "client_id": client_id, "text": text})
        return await self.receive("ack")

    async def receive(self, expected: str | None = None, timeout: float = 5) -> dict[str, Any]:
        output = await self.ws.receive_output(timeout)
        if output["type"] == "websocket.close":
            raise AssertionError(f"socket closed with {output.get('code')}")
        frame: dict[str, Any] = json.loads(output["text"])
        validate_server_message(frame)
        self.frames.append(frame)
        if expected is not None:
            assert frame["type"] == expected, frame
        return frame

    async def closed_with(self, timeout: float = 5) -> int | None:
        while True:
            output = await self.ws.receive_output(timeout)
            if output["type"] == "websocket.close":
                code: int | None = output.get("code")
                return code
            frame = json.loads(output["text"])
            validate_server_message(frame)
            self.frames.append(frame)

    async def nothing(self, timeout: float = 0.3) -> bool:
        return bool(await self.ws.receive_nothing(timeout))

    async def close(self) -> None:
        await self.ws.disconnect()


class AgentFeed:
    """What the agents' console of a workspace receives on its realtime group."""

    def __init__(self, workspace_id: int) -> None:
        self.layer = get_channel_layer()
        self.group = workspace_group(workspace_id)
        self.channel = ""

    async def __aenter__(self) -> AgentFeed:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.layer.group_discard(self.group, self.channel)

    async def next(self, event: str, timeout: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.layer.receive(self.channel)
                validate_event(message["event"], message["payload"])
                if message["event"] == event:
                    payload: dict[str, Any] = message["payload"]
                    return payload
