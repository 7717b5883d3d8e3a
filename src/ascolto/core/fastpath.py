"""Pieces shared by the small ASGI apps that answer ordinary requests in front of Django (survey
page submits, API channel messages; docs/decisions 0011 and 0012): the ASGI types, reading a
request body up to a limit, handing what was read on to Django unchanged, and the psycopg async
connections of one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from django.db import connections

R = TypeVar("R")

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


# Wake-ups of the worker (a cache mark and a job, both on Redis at scale) at most this often:
# the rows committed meanwhile wait that much longer for a worker that is idle, and at
# hundreds of batches a second a wake-up per batch cost the web process ~7 % of its CPU.
WAKE_INTERVAL = 0.02


async def wake_on_kick(
    kick: asyncio.Event,
    wake: Callable[[], None],
    executor: Executor,
    *,
    interval: float = WAKE_INTERVAL,
) -> None:
    """Run `wake` (blocking: in `executor`) after `kick` is set, at most once per `interval`;
    a kick during the pause is kept for the next round, so none is lost. Runs until
    cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        await kick.wait()
        kick.clear()
        await loop.run_in_executor(executor, wake)
        await asyncio.sleep(interval)


class AsyncConnections:
    """psycopg async connections to Django's default database, one per name (e.g. one for
    reads, one for writes), of one event loop; in autocommit, so one statement is one commit.
    A connection found broken is opened again on the next use."""

    def __init__(self, application_name: str) -> None:
        self.application_name = application_name
        self._connections: dict[str, Any] = {}

    async def _connection(self, name: str) -> Any:
        import psycopg

        found = self._connections.get(name)
        if found is None or found.closed:
            config = connections["default"].settings_dict
            found = await psycopg.AsyncConnection.connect(
                dbname=config["NAME"],
                user=config.get("USER") or None,
                password=config.get("PASSWORD") or None,
                host=config.get("HOST") or None,
                port=config.get("PORT") or None,
                connect_timeout=config.get("OPTIONS", {}).get("connect_timeout", 10),
                application_name=self.application_name,
                autocommit=True,
            )
            self._connections[name] = found
        return found

    async def run(self, name: str, work: Callable[[Any], Awaitable[R]]) -> R:
        """`work(connection)` on the named connection."""
        conn = await self._connection(name)
        try:
            return await work(conn)
        except Exception:
            if conn.broken or conn.closed:
                self._connections.pop(name, None)
            raise

    def close(self) -> None:
        """Close the connections without their loop (it may be gone)."""
        for conn in self._connections.values():
            conn.pgconn.finish()
        self._connections.clear()
