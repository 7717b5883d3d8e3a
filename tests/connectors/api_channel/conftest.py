"""Fixtures of the API channel: the API's URLs, token clients, an API inbox whose webhook is a
real HTTP server on 127.0.0.1 started by the test (the fake receiving system)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import ascolto.connectors.api_channel.handlers  # noqa: F401 - registers the outbox handler
from ascolto.connectors.api_channel import services
from ascolto.core.actors import Actor
from ascolto.inbox.models import Inbox
from tests.api.conftest import (  # noqa: F401 (the API fixtures, shared with tests/api)
    ApiClient,
    _fast_password_hashing,
    api,
    make_token,
    member,
    other_api,
)


@pytest.fixture(autouse=True)
def _channel_settings(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.inbox.api.urls"
    # No waiting between attempts in tests; what is tested is the count and the end state.
    settings.ASCOLTO_API_CHANNEL_RETRY_DELAYS = [0, 0]
    settings.ASCOLTO_API_CHANNEL_TIMEOUT = 1.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """The receiving system: records every request and answers from a script (then 200)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Answer] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    answer = receiver.script.popleft() if receiver.script else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/ascolto"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def admin_api(admin_user: Any, workspace: Any, make_token: Any) -> ApiClient:  # noqa: F811
    return ApiClient(make_token(admin_user, workspace))


@dataclass
class ApiInbox:
    inbox: Inbox
    secret: str


@pytest.fixture
def channel(workspace: Any, receiver: Receiver) -> ApiInbox:
    inbox, secret = services.api_inbox_create(
        workspace=workspace,
        name="Shop back end",
        actor=Actor.system("test"),
        webhook_url=receiver.url,
        routing=Inbox.Routing.MANUAL,
    )
    return ApiInbox(inbox, secret)


def ingest_body(provider_id: str = "shop-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_id": provider_id,
        "customer": {"kind": "email", "value": "Dana@Example.com", "name": "Dana Levi"},
        "text": "Where is my order 1001?",
    }
    body.update(extra)
    return body
