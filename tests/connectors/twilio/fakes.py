"""A fake provider API on 127.0.0.1 (a real HTTP server in a thread) for the Twilio and Meta
connectors' outbound tests: records every request and answers from a script, then with a
default answer built from the request (Twilio: a new message sid; Meta: a new message id)."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)


class FakeProvider:
    def __init__(self, default: Callable[[Request, int], Answer]) -> None:
        self.requests: list[Request] = []
        self.script: deque[Answer] = deque()
        self.default = default
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(self.path, dict(self.headers), body)
                with fake._lock:
                    fake.requests.append(request)
                    answer = (
                        fake.script.popleft()
                        if fake.script
                        else fake.default(request, next(fake._counter))
                    )
                raw = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def twilio_default(request: Request, n: int) -> Answer:
    return Answer(201, {"sid": f"SM{n:032d}", "status": "queued"})


def meta_default(request: Request, n: int) -> Answer:
    payload = request.json()
    if payload.get("messaging_product") == "whatsapp":
        return Answer(200, {"messages": [{"id": f"wamid.OUT{n}"}]})
    return Answer(200, {"recipient_id": payload["recipient"]["id"], "message_id": f"m_OUT{n}"})
