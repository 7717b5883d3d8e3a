"""Kernel jobs: outbox dispatch and its sweeper, and the lock periodic jobs hold.

Jobs are thin: they take ids and call a service. Every worker process runs the periodic
scheduler, so a periodic job that must not run twice at once is wrapped in `single_instance`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_shutdown
from huey.exceptions import TaskLockedException

from ascolto.core import outbox

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOCK_NAMES: set[str] = set()
SWEEPER_LOCK = "outbox-sweeper"


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the lock `name` across every worker for the block; yields whether it was acquired.

    On PostgreSQL it is a session advisory lock: released when the block ends, and by the
    server itself if the process dies, so a crash never leaves it stuck. Elsewhere (SQLite, one
    machine) it is a lock in Huey's storage; `ascolto serve` and `ascolto worker` on SQLite
    clear leftovers at start (`flush_stale_locks`), since no other worker can hold them then.
    """
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            row = cursor.fetchone()
        acquired = bool(row and row[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    lock = settings.HUEY.lock_task(name)
    try:
        lock.acquire()
    except TaskLockedException:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def single_instance(name: str) -> Callable[[Callable[..., T]], Callable[..., T | None]]:
    """Run the decorated job only if no other worker is running it; otherwise return None."""
    LOCK_NAMES.add(name)

    def decorate(func: Callable[..., T]) -> Callable[..., T | None]:
        @wraps(func)
        def run(*args: Any, **kwargs: Any) -> T | None:
            with exclusive(name) as acquired:
                if not acquired:
                    logger.debug("Skipping %s: another worker is running it", name)
                    return None
                return func(*args, **kwargs)

        return run

    return decorate


def flush_stale_locks() -> set[str]:
    """Clear Huey-storage locks left by a worker that died. Only safe with a single worker."""
    if connection.vendor == "postgresql":
        return set()
    flushed: set[str] = settings.HUEY.flush_locks(*LOCK_NAMES)
    return flushed


def _advisory_key(name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"ascolto:{name}".encode()).digest()[:8], "big", signed=True
    )


@on_shutdown()  # type: ignore[untyped-decorator]
def close_database_connections() -> None:
    """A stopping worker thread closes its database connection instead of leaving it open."""
    connections.close_all()


@db_task(retries=3, retry_delay=5)  # type: ignore[untyped-decorator]
def dispatch_outbox_event(event_id: int) -> bool:
    return outbox.dispatch_event(event_id)


@db_task(retries=3, retry_delay=5)  # type: ignore[untyped-decorator]
def dispatch_outbox_events(event_ids: list[int]) -> int:
    return outbox.dispatch_events(event_ids)


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SWEEPER_LOCK)
def sweep_outbox() -> int:
    """Dispatch outbox events whose dispatch was lost or failed. Returns how many completed."""
    return outbox.sweep()
