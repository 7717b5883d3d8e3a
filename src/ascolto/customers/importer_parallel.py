"""Writing one import's batches on several database connections at once (PostgreSQL only).

One connection runs one transaction at a time, and a single PostgreSQL backend uses one core.
With `writers` > 1 the records are split into shards by a hash of their external id, each shard
is batched on its own and written by its own thread on its own connection. Rows of one external
id always land in the same shard, in file order, so a key written twice in a file ends as it
would end written row by row.

What shards could race on is an identity handle (an email, a phone) claimed by two customers of
different shards. So a record whose handle is in a batch of another shard that is not yet
written is held back, with every later record of its external id, and written once the other
batches are done, on this connection: as with a single writer, the first row to claim a handle
gets it and the later one is reported. Against writers outside this import (the API, another
import), `SqlWriter.customers` notices a handle it could not insert and raises
`ConcurrentWrite`, and the batch is written again.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from django.db import connection

from ascolto.customers.importer_sql import BatchOutcome, SqlWriter

if TYPE_CHECKING:
    from ascolto.customers.importer import Batcher, Record

# Batches queued per shard beyond the one being written: none, as the next one fills meanwhile;
# memory holds at most writers x 2 batches.
QUEUED_PER_SHARD = 0


def shard_of(external_id: str, shards: int) -> int:
    return zlib.crc32(external_id.encode("utf-8")) % shards


def _handles(record: Record) -> tuple[tuple[str, str], ...]:
    return getattr(record, "identities", ())


class ParallelWriter:
    """Batches records per shard and writes each shard's batches in order on its own thread.

    `write(records)` runs in a writer thread (inside a transaction, with retries); `done` is
    called in the caller's thread with each outcome, in the order the batches finish.
    """

    def __init__(
        self,
        *,
        writers: int,
        make_batcher: Callable[[], Batcher],
        write: Callable[[list[Record]], BatchOutcome],
        done: Callable[[BatchOutcome], None],
        writer: SqlWriter,
    ) -> None:
        self.shards = writers
        self.batchers = [make_batcher() for _ in range(writers)]
        self.pools = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ascolto-import-{i}")
            for i in range(writers)
        ]
        self.pending: list[deque[tuple[Future[BatchOutcome], list[Record]]]] = [
            deque() for _ in range(writers)
        ]
        self._write = write
        self._done = done
        self._writer = writer
        self._make_batcher = make_batcher
        # Handles of records not written yet -> the shard writing them.
        self.unwritten: dict[tuple[str, str], int] = {}
        self.held: list[Record] = []
        self.held_keys: set[str] = set()
        for pool in self.pools:
            pool.submit(writer.reset).result()

    def add(self, record: Record) -> None:
        shard = shard_of(record.external_id, self.shards)
        handles = _handles(record)
        if record.external_id in self.held_keys or any(
            self.unwritten.get(h, shard) != shard for h in handles
        ):
            self.held.append(record)
            self.held_keys.add(record.external_id)
            if len(self.held) >= self.batchers[0].size:
                self._write_held()
            return
        for handle in handles:
            self.unwritten[handle] = shard
        full = self.batchers[shard].add(record)
        if full:
            self._submit(shard, full)

    def _submit(self, shard: int, batch: list[Record]) -> None:
        queue = self.pending[shard]
        while len(queue) > QUEUED_PER_SHARD:
            self._finished(shard, *queue.popleft())
        queue.append((self.pools[shard].submit(self._write, batch), batch))
        for other, waiting in enumerate(self.pending):  # what finished elsewhere, not waiting
            while waiting and waiting[0][0].done():
                self._finished(other, *waiting.popleft())

    def _finished(self, shard: int, future: Future[BatchOutcome], batch: list[Record]) -> None:
        outcome = future.result()
        for record in batch:
            for handle in _handles(record):
                if self.unwritten.get(handle) == shard:
                    del self.unwritten[handle]
        self._done(outcome)

    def _drain(self) -> None:
        """Submit every shard's open batch and wait until all are written."""
        for shard, batcher in enumerate(self.batchers):
            batch = batcher.take()
            if batch:
                self._submit(shard, batch)
        for shard, queue in enumerate(self.pending):
            while queue:
                self._finished(shard, *queue.popleft())

    def _write_held(self) -> None:
        """Write the held-back records, in file order, once nothing else is unwritten."""
        self._drain()
        batcher = self._make_batcher()
        for record in self.held:
            full = batcher.add(record)
            if full:
                self._done(self.pools[0].submit(self._write, full).result())
        rest = batcher.take()
        if rest:
            self._done(self.pools[0].submit(self._write, rest).result())
        self.held, self.held_keys = [], set()

    def finish(self) -> list[int]:
        """Write what is left, wait for every batch, close the threads' connections.

        Returns the customers each thread's connection recorded as touched (the previous owners
        of orders moved to another customer), for the stats refresh on the caller's connection.
        """
        touched: list[int] = []
        try:
            self._drain()
            if self.held:
                self._write_held()
            for pool in self.pools:
                touched.extend(pool.submit(self._touched).result())
        finally:
            self.close()
        return touched

    def close(self) -> None:
        """Stop the threads, dropping batches not started (after a failure), and close their
        connections."""
        for queue in self.pending:
            for future, _batch in queue:
                future.cancel()
        for pool in self.pools:
            pool.submit(self._close)
            pool.shutdown(wait=True)

    def _touched(self) -> Sequence[int]:
        return self._writer.touched_ids()

    def _close(self) -> None:
        try:
            self._writer.reset()
        finally:
            connection.close()
