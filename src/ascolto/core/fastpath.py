"""Pieces shared by the small ASGI apps that answer ordinary requests in front of Django (survey
page submits, API channel messages; docs/decisions 0011 and 0012): the ASGI types, reading a
request body up to a limit, and handing what was read on to Django unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Receive and send of other apps (Django's) are typed more loosely than ours.
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


async def read_body(receive: Receive, *, limit: int) -> tuple[bytes | None, bool]:
    """The body, or as much of it as goes past `limit` bytes (then complete is False); None
    when the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """`receive` with what was read of the body given back first."""
    pending = [{"type": "http.request", "body": body, "more_body": more}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
