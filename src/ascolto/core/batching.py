"""Group work of concurrent requests into batches on one event loop (the survey submits' and
the API channel's fast paths: one statement and one commit for everything waiting)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

BATCH = 500
T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs `run` over whatever items are waiting (up to `limit`), one batch at a time, in one
    task of the loop that first submitted; each `submit` returns its item's result (or raises
    the batch's exception)."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], limit: int = BATCH) -> None:
        self._run = run
        self._limit = limit
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._drain())
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put_nowait((item, future))
        return await future

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._limit and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._run([item for item, _future in batch])
            except Exception as exc:
                logger.exception("A batch of %s failed", len(batch))
                for _item, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_item, future), result in zip(batch, results, strict=True):
                if not future.done():  # not cancelled (the client went away)
                    future.set_result(result)
