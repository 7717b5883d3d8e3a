"""Realtime pushes to browsers, published only after the transaction that caused them commits.

An event has a namespaced name (`<app>.<entity>.<verb>`, e.g. `customers.activity.created`), a
small JSON payload of ids (clients fetch what they show; a push only says "look again") and is
sent to the group of one workspace. What a browser receives on `/ws/events/` is exactly
`{"event": name, "workspace_id": id, "payload": {...}}`.

Apps declare their events in `<app>/events.py` with `define_event(name, field=type, ...)`;
`publish_on_commit` checks every payload against its declaration, so a typo fails in tests
instead of leaving a screen stale.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import importlib
import json
import logging
import re
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.apps import apps
from django.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "realtime.event"
BATCH_TYPE = "realtime.batch"  # several channel-layer messages for one group, in order
BATCH_SIZE = 100
# A push past this size is dropped (and logged), never raised: its size depends on what people
# wrote, and a long email must not make the change that carried it fail.
MAX_PAYLOAD_BYTES = 256 * 1024
EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){2,}")

FieldType = type | tuple[type, ...]
_schemas: dict[str, dict[str, FieldType]] = {}
_discovered = False
_discover_lock = threading.Lock()
_warned_undeclared: set[str] = set()


class InvalidEvent(ValueError):
    """A programming error: an event name or payload that breaks the realtime contract."""


def workspace_group(workspace_id: int) -> str:
    return f"workspace.{workspace_id}"


def define_event(name: str, **fields: FieldType) -> str:
    """Declare an event and the fields (with their types) its payload carries. Returns the name."""
    if not EVENT_NAME.fullmatch(name):
        raise InvalidEvent(f"Realtime event names look like app.entity.verb (got {name!r}).")
    _schemas[name] = dict(fields)
    return name


def event_schemas() -> dict[str, dict[str, FieldType]]:
    _autodiscover()
    return dict(_schemas)


def validate_event(event: str, payload: dict[str, Any]) -> None:
    """Raise InvalidEvent unless the event name and payload honour the contract."""
    if not EVENT_NAME.fullmatch(event):
        raise InvalidEvent(f"Realtime event names look like app.entity.verb (got {event!r}).")
    if not isinstance(payload, dict):
        raise InvalidEvent(f"The payload of {event} must be a dict.")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"The payload of {event} is not JSON: {exc}") from None
    schema = event_schemas().get(event)
    if schema is None:
        if event not in _warned_undeclared:
            _warned_undeclared.add(event)
            logger.warning("Realtime event %s is not declared with define_event()", event)
        return
    if set(payload) != set(schema):
        raise InvalidEvent(
            f"The payload of {event} must have the fields {sorted(schema)} (got {sorted(payload)})."
        )
    for field, expected in schema.items():
        value = payload[field]
        # bool is an int in Python; a declared int field must not silently accept True.
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
            raise InvalidEvent(f"{event}.{field} must be {expected} (got {value!r}).")


def envelope(*, workspace_id: int, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message; the consumer forwards it without the `type` key."""
    return {"type": MESSAGE_TYPE, "event": event, "workspace_id": workspace_id, "payload": payload}


def publish_on_commit(*, workspace_id: int, event: str, payload: dict[str, Any]) -> None:
    """Push `event` to the browsers of a workspace once the current transaction commits.

    Outside a transaction it is sent at once. A failed push is logged, never raised: the change
    is already committed and clients resync when they reconnect. Raises InvalidEvent for a
    name or payload that breaks the contract (a programming error).
    """
    validate_event(event, payload)
    size = len(json.dumps(payload).encode())
    if size > MAX_PAYLOAD_BYTES:
        logger.error(
            "Realtime event %s dropped: its payload is %d bytes (limit %d)",
            event,
            size,
            MAX_PAYLOAD_BYTES,
        )
        return
    message = envelope(workspace_id=workspace_id, event=event, payload=payload)
    transaction.on_commit(lambda: _send(workspace_group(workspace_id), message))


def publish_many_on_commit(*, events: list[tuple[int, str, dict[str, Any]]]) -> None:
    """`publish_on_commit` for many (workspace_id, event, payload) at once, e.g. a batch of
    survey answers: sent after commit in order, on one event loop instead of one per event."""
    batch: list[tuple[str, dict[str, Any]]] = []
    for workspace_id, event, payload in events:
        validate_event(event, payload)
        if len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
            logger.error("Realtime event %s dropped: its payload is over the limit", event)
            continue
        message = envelope(workspace_id=workspace_id, event=event, payload=payload)
        batch.append((workspace_group(workspace_id), message))
    if batch:
        transaction.on_commit(lambda: _send_many(batch))


def _send_many(batch: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group, message in batch:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("Realtime publish of %s failed", message.get("event"))

    try:
        sender = _sender
        if sender is not None and sender.loop.is_running():
            for group, message in batch:
                sender.submit(group, message)
        else:
            async_to_sync(send_all)()
    except Exception:
        logger.exception("Realtime publish of %d events failed", len(batch))


class _ServerLoopSender:
    """Hands pushes to the server's loop without waiting for them, sent there one after the
    other in the order they were handed over.

    A thread that has just committed (a web request, a widget message, a job of `ascolto
    serve`) returns at once instead of waiting for the busy loop to get round to its push, and
    the pushes of one transaction, or of two in a row, still reach sockets in commit order.

    While one push is on its way the next ones wait; when it is done, everything that waits for
    the same group goes as one channel-layer message (`BATCH_TYPE`, unpacked by
    `core.consumers.DirectDispatch`), in order. A burst (new conversations arriving together,
    each with several events for the workspace's consoles) then costs one group send per group
    and round instead of one per event, so the queue cannot grow faster than it drains.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self.draining = False

    def submit(self, group: str, message: dict[str, Any]) -> None:
        if _running_in(self.loop):
            self._add(group, message)
        else:
            self.loop.call_soon_threadsafe(self._add, group, message)

    def _add(self, group: str, message: dict[str, Any]) -> None:
        self.pending.append((group, message))
        if not self.draining:
            self.draining = True
            self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                waiting = list(self.pending)
                self.pending.clear()
                layer = get_channel_layer()
                if layer is None:
                    continue
                for group, message in batched(waiting):
                    try:
                        await layer.group_send(group, message)
                    except Exception:
                        logger.exception("Realtime publish to %s failed", group)
        finally:
            self.draining = False


def batched(pushes: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """(group, message) pairs merged per group, in order within each group: one message alone,
    several as a `BATCH_TYPE` message of at most BATCH_SIZE."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in pushes:
        by_group.setdefault(group, []).append(message)
    merged = []
    for group, messages in by_group.items():
        for start in range(0, len(messages), BATCH_SIZE):
            chunk = messages[start : start + BATCH_SIZE]
            merged.append(
                (group, chunk[0] if len(chunk) == 1 else {"type": BATCH_TYPE, "messages": chunk})
            )
    return merged


_sender: _ServerLoopSender | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Remember the web server's event loop (set by the ASGI lifespan in config/asgi.py).

    The in-memory channel layer of `ascolto serve` keeps its queues on that loop, so a push from
    a worker thread must be handed to that loop rather than run on a loop of its own, which
    would leave the waiting websocket asleep. Pushes are handed over without waiting for them
    (`_ServerLoopSender`).
    """
    global _sender
    _sender = _ServerLoopSender(loop) if loop is not None else None


_background: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None


def start_background_sender() -> None:
    """Send this process's pushes from an event loop thread of its own (a worker process of the
    scaled setup, which has no server loop): a job that commits hands its pushes over and goes
    on, instead of waiting for a loop to start and for Redis to answer for each of them, and
    pushes that wait together leave merged per group (`_ServerLoopSender`). What still waits
    when the process exits is sent first (`stop_background_sender`, run at exit)."""
    global _background
    if _sender is not None:
        return
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="realtime-sender", daemon=True)
    thread.start()
    bind_server_loop(loop)
    _background = (loop, thread)
    atexit.register(stop_background_sender)


def stop_background_sender(timeout: float = 5.0) -> None:
    """Send the pushes that wait (for at most `timeout` seconds), then stop the loop thread."""
    global _background
    if _background is None:
        return
    loop, thread = _background
    _background = None
    sender = _sender

    async def drained() -> None:
        while sender is not None and (sender.pending or sender.draining):
            await asyncio.sleep(0.005)

    try:
        asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout)
    except Exception:
        logger.warning("Realtime pushes still waiting at exit were not all sent", exc_info=True)
    bind_server_loop(None)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)


def _send(group: str, message: dict[str, Any]) -> None:
    """Send one push now: through the server's loop when there is one (without waiting),
    otherwise on a loop of this thread (a worker process, a script, a test)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        sender = _sender
        if sender is not None and sender.loop.is_running():
            sender.submit(group, message)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("Realtime publish of %s failed", message.get("event"))


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _autodiscover() -> None:
    global _discovered
    if _discovered:
        return
    with _discover_lock:
        if _discovered:
            return
        for config in apps.get_app_configs():
            if not config.name.startswith("ascolto."):
                continue
            try:
                importlib.import_module(f"{config.name}.events")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.events":
                    raise
        _discovered = True
