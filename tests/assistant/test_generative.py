"""Generative mode against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ascolto.inbox.models import Message

pytest.importorskip("lingua")

RETURNS = (
    "Return an item",
    "You can return an item within 30 days: open your orders, choose the item and click Return.",
)


class FakeCompletions:
    def __init__(self) -> None:
        self.reply = ""
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def fake_llm() -> Iterator[tuple[str, FakeCompletions]]:
    state = FakeCompletions()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(json.loads(self.rfile.read(length)))
            state.headers.append(dict(self.headers))
            body = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": state.reply}}]}
            ).encode()
            self.send_response(200 if self.path == "/v1/chat/completions" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def article(workspace: Any, actor: Any, make_article: Callable[..., Any]) -> Any:
    return make_article(workspace, actor, {"en": RETURNS})


QUESTION = "Please tell me how to return an item within 30 days"


def _bot_text(result: Any) -> str:
    return str(result.conversation.messages.get(kind=Message.Kind.BOT).text)


def test_generative_mode_is_off_by_default(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    article: Any,
    enable_assistant: Any,
    say: Any,
    fake_llm: Any,
) -> None:
    enable_assistant(workspace, generative_base_url=fake_llm[0], generative_model="m")

    result = say(chat_inbox, customer, QUESTION)

    assert _bot_text(result).startswith("> You can return an item")
    assert fake_llm[1].requests == []


def test_a_cited_generated_answer_is_sent_with_the_cited_article_linked(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    article: Any,
    enable_assistant: Any,
    say: Any,
    fake_llm: Any,
) -> None:
    url, server = fake_llm
    server.reply = "Open your orders, pick the item and click Return, within 30 days [1]."
    enable_assistant(
        workspace,
        generative_enabled=True,
        generative_base_url=url,
        generative_model="local-model",
        generative_api_key="secret-key",
    )

    result = say(chat_inbox, customer, QUESTION)

    text = _bot_text(result)
    assert text.startswith("Open your orders, pick the item and click Return, within 30 days [1].")
    assert f"Return an item: http://127.0.0.1:8000/help/{workspace.slug}/en/a/" in text
    assert "Did this solve it?" in text
    sent = server.requests[0]
    assert sent["model"] == "local-model"
    assert (
        "[1] Return an item: You can return an item within 30 days"
        in sent["messages"][1]["content"]
    )
    assert QUESTION in sent["messages"][1]["content"]
    assert server.headers[0]["Authorization"] == "Bearer secret-key"


@pytest.mark.parametrize(
    "reply",
    ["Just click Return.", "NO_ANSWER", "See the policy [7].", ""],
)
def test_an_uncited_or_unfounded_generated_answer_falls_back_to_the_quote(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    article: Any,
    enable_assistant: Any,
    say: Any,
    fake_llm: Any,
    reply: str,
) -> None:
    url, server = fake_llm
    server.reply = reply
    enable_assistant(
        workspace, generative_enabled=True, generative_base_url=url, generative_model="m"
    )

    result = say(chat_inbox, customer, QUESTION)

    assert _bot_text(result).startswith("> You can return an item")
    assert len(server.requests) == 1


def test_an_unreachable_endpoint_falls_back_to_the_quote(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    article: Any,
    enable_assistant: Any,
    say: Any,
    free_port: int,
) -> None:
    enable_assistant(
        workspace,
        generative_enabled=True,
        generative_base_url=f"http://127.0.0.1:{free_port}/v1",
        generative_model="m",
    )

    result = say(chat_inbox, customer, QUESTION)

    assert _bot_text(result).startswith("> You can return an item")


def test_without_an_article_the_endpoint_is_never_asked(
    workspace: Any,
    chat_inbox: Any,
    customer: Any,
    enable_assistant: Any,
    say: Any,
    fake_llm: Any,
) -> None:
    url, server = fake_llm
    server.reply = "Sure, here is an answer [1]."
    enable_assistant(
        workspace, generative_enabled=True, generative_base_url=url, generative_model="m"
    )

    result = say(chat_inbox, customer, QUESTION)

    assert not result.conversation.messages.filter(kind=Message.Kind.BOT).exists()
    assert server.requests == []
