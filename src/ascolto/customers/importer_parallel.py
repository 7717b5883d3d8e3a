"""Writing one import's batches on several database connections at once (PostgreSQL only).

One connection runs one transaction at a time, and a single PostgreSQL backend uses one core.
With `writers` > 1 the records are split into shards by a hash of their external id, each shard
is batched on its own and written by its own thread on its own connection. Rows of one external
id always land in the same shard, in file order, so a key written twice in a file ends as it
would end written row by row.

What shards can race on is an identity handle (an email, a phone) claimed by two customers of
different shards at the same moment. `SqlWriter.customers` notices a handle it could not insert
and raises `ConcurrentWrite`; the batch is rolled back and written again, and the repeat sees the
other shard's committed handle and reports the row as an error, as a single writer would. A
deadlock between two shards (PostgreSQL aborts one of them) is retried the same way.
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

# Batches queued per shard beyond the one being written: enough to keep the connection busy,
# few enough that memory stays bounded by writers x 2 batches.
QUEUED_PER_SHARD = 1


def shard_of(external_id: str, shards: int) -> int:
    return zlib.crc32(external_id.encode("utf-8")) % shards


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
        self.pending: list[deque[Future[BatchOutcome]]] = [deque() for _ in range(writers)]
        self._write = write
        self._done = done
        self._writer = writer
        for pool in self.pools:
            pool.submit(writer.reset).result()

    def add(self, record: Record) -> None:
        shard = shard_of(record.external_id, self.shards)
        full = self.batchers[shard].add(record)
        if full:
            self._submit(shard, full)

    def _submit(self, shard: int, batch: list[Record]) -> None:
        queue = self.pending[shard]
        while len(queue) > QUEUED_PER_SHARD:
            self._done(queue.popleft().result())
        queue.append(self.pools[shard].submit(self._write, batch))
        for other in self.pending:  # report what has finished elsewhere, without waiting
            while other and other[0].done():
                self._done(other.popleft().result())

    def finish(self) -> list[int]:
        """Write what is left, wait for every batch, close the threads' connections.

        Returns the customers each thread's connection recorded as touched (the previous owners
        of orders moved to another customer), for the stats refresh on the caller's connection.
        """
        for shard, batcher in enumerate(self.batchers):
            batch = batcher.take()
            if batch:
                self._submit(shard, batch)
        touched: list[int] = []
        try:
            for queue in self.pending:
                while queue:
                    self._done(queue.popleft().result())
            for pool in self.pools:
                touched.extend(pool.submit(self._touched).result())
        finally:
            self.close()
        return touched

    def close(self) -> None:
        """Stop the threads, dropping batches not started (after a failure), and close their
        connections."""
        for queue in self.pending:
            for future in queue:
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
