"""Fixtures of the channel settings pages: a signed-in admin, a real SMTP server (aiosmtpd)
and IMAP server (Dovecot, from the email connector's fixtures) on loopback, and a fake
provider API (a real HTTP server in a thread) that answers Twilio's and Meta's account reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from tests.connectors.email.conftest import SmtpSink, dovecot  # noqa: F401 - fixture
from tests.ui.conftest import login


@pytest.fixture(autouse=True)
def _urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.connectors.settings_ui.urls"
    settings.ASCOLTO_MESSAGING_TIMEOUT = 2.0
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    return login(Client(), admin_user)


@pytest.fixture
def agent_client(agent: Any) -> Client:
    return login(Client(), agent)


@pytest.fixture
def smtp(free_port: int) -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class FakeApi:
    """Answers GETs with `answers[path]` (status, JSON body), else 404; records each request."""

    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            fake.requests.append((path, dict(self.headers)))
            status, body = fake.answers.get(path, (404, {"message": "not found", "code": 20404}))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.server.daemon_threads = True
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
