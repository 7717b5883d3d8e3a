"""Fixtures for the kernel's tests: an isolated outbox registry and a live Huey consumer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction

from ascolto.cli import InProcessConsumer
from ascolto.core import outbox, realtime
from ascolto.core.models import OutboxEvent


@pytest.fixture
def outbox_registry() -> Iterator[None]:
    """Handlers registered by a test disappear after it; the product's handlers stay."""
    saved = {name: list(entries) for name, entries in outbox._registry.items()}
    yield
    outbox._registry.clear()
    outbox._registry.update(saved)


@pytest.fixture
def realtime_schemas() -> Iterator[None]:
    realtime.event_schemas()
    saved = dict(realtime._schemas)
    yield
    realtime._schemas.clear()
    realtime._schemas.update(saved)


@contextmanager
def queue_on(storage: Any) -> Iterator[Any]:
    """Send the product's Huey tasks to `storage` instead of running them immediately.

    Tests otherwise run Huey in immediate mode; here tasks go through a real queue, as in
    `ascolto serve` and `ascolto worker`.
    """
    huey = settings.HUEY
    saved = huey._immediate, huey.storage
    huey._immediate = False
    huey.storage = storage
    try:
        yield huey
    finally:
        storage.flush_all()
        huey._immediate, huey.storage = saved


@contextmanager
def consuming(huey: Any) -> Iterator[InProcessConsumer]:
    """Real consumer threads on `huey`, stopped gracefully at the end of the block."""
    # The in-memory SQLite test database (shared cache) answers concurrent writers with
    # "table is locked" instead of waiting as the file database of `ascolto serve` does.
    in_memory = connection.vendor == "sqlite" and connection.is_in_memory_db()
    consumer = InProcessConsumer(
        huey,
        workers=1 if in_memory else 2,
        periodic=False,
        worker_type="thread",
        initial_delay=0.05,
        max_delay=0.2,
        check_worker_health=False,
        shutdown_timeout=10,
    )
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


def wait_until(condition: Callable[[], bool], *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {condition}")
        time.sleep(0.05)


class Boom(Exception):
    """Something going wrong later in the request, after the change was written."""


def emit_then_fail(workspace: Any, name: str = "tests.thing.happened") -> None:
    with transaction.atomic():
        outbox.emit(workspace=workspace, name=name, payload={})
        raise Boom


class Recorder:
    """Collects what handlers saw, and in which thread, safely across worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any], str]] = []

    def __call__(self, label: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((label, payload, threading.current_thread().name))

    def handler(self, label: str) -> Callable[[OutboxEvent], None]:
        """An outbox handler with a stable id of its own (ids are dotted paths)."""

        def record(event: OutboxEvent) -> None:
            self(label, event.payload)

        record.__qualname__ = f"Recorder.handler.{label}"
        return record

    def labels(self) -> list[str]:
        with self._lock:
            return [label for label, _, _ in self.calls]


@pytest.fixture
def recorder(outbox_registry: None) -> Recorder:
    return Recorder()
