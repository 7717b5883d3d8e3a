"""Run the same work in several threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_at_once(work: Callable[[], T], workers: int, *, timeout: float = 60) -> list[T]:
    """Start `workers` threads on `work` together; their results, once all have finished.
    A failure in any thread fails the caller."""
    start = threading.Barrier(workers)
    results: list[T] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            start.wait(10)
            outcome = work()
            with lock:
                results.append(outcome)
        except BaseException as exc:  # reported by the main thread
            with lock:
                failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert failures == []
    assert len(results) == workers
    return results
