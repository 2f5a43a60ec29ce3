"""The usage writer: records go to the journal and a bounded queue on the request path, and
a background task writes them to PostgreSQL in batches.

When the database is down the batch is kept and retried with backoff; when the queue is full
the newest records stay only in the journal and are replayed from it later. On shutdown the
queue is drained (within a deadline); whatever cannot be written stays in the journal for
the next start. Nothing is lost, and idempotent inserts mean nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import asyncpg

from gateway.metering.journal import Journal, read_segment
from gateway.metering.record import UsageRecord
from gateway.metrics import Metrics
from gateway.store import usage

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
FLUSH_INTERVAL = 0.2
ROTATE_EVERY = 60.0
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class UsageWriter:
    def __init__(
        self,
        pool: Callable[[], Any],
        journal_dir: Path,
        metrics: Metrics,
        max_queue: int = 100_000,
    ) -> None:
        self._pool = pool  # a getter: the pool is created after the writer
        self._journal = Journal(journal_dir)
        self._metrics = metrics
        self._max_queue = max_queue
        self._queue: deque[UsageRecord] = deque()
        self._overflowed = False  # some records are only in the journal now
        self._wake = asyncio.Event()
        # Rotated segments not yet deleted, and whether some of their records never made
        # it into the queue (so the segment itself must be replayed).
        self._unretired: list[tuple[Path, bool]] = []
        # Read when scraped: exact then, and nothing to do per record.
        metrics.usage_queue_depth.set_function(lambda: len(self._queue))

    def submit(self, record: UsageRecord) -> None:
        """The request path's only call: a file append and a deque append, no waiting."""
        self._journal.write(record)
        if len(self._queue) >= self._max_queue:
            self._overflowed = True
            self._metrics.usage_dropped_to_journal.inc()
        else:
            self._queue.append(record)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()

    async def run(self) -> None:
        """Until cancelled: replay orphaned journals, then write batches as they come."""
        await self._replay_orphans()
        loop = asyncio.get_running_loop()
        rotated_at = loop.time()
        delay = FLUSH_INTERVAL
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._write_queued()
                if self._overflowed or loop.time() - rotated_at > ROTATE_EVERY:
                    await self._rotate()
                    rotated_at = loop.time()
                delay = FLUSH_INTERVAL
            except _DB_ERRORS as exc:
                delay = min(max(delay * 2, 0.5), 10.0)
                self._metrics.usage_write_failures.inc()
                logger.warning(
                    "usage write failed (%s); retrying in %.1fs", type(exc).__name__, delay
                )

    async def close(self, deadline: float = 10.0) -> None:
        """Drain what we can before exit; the journal keeps the rest for the next start."""
        try:
            async with asyncio.timeout(deadline):
                await self._write_queued()
                await self._rotate()
        except (*_DB_ERRORS, TimeoutError) as exc:
            logger.error(
                "usage not fully written at shutdown (%s); %d records wait in the "
                "journal for the next start",
                type(exc).__name__,
                len(self._queue),
            )
        finally:
            self._journal.close()

    async def _write_queued(self) -> None:
        while self._queue:
            batch = [self._queue[i] for i in range(min(BATCH_SIZE, len(self._queue)))]
            await usage.write_batch(self._pool(), batch)
            for _ in batch:
                self._queue.popleft()
            self._metrics.usage_written.inc(len(batch))

    async def _rotate(self) -> None:
        """Starts a new segment and deletes the old ones once all they hold is written."""
        previous = self._journal.rotate()
        if previous is not None:
            self._unretired.append((previous, self._overflowed))
        self._overflowed = False
        await self._write_queued()  # FIFO: everything queued before the rotation is now in
        while self._unretired:
            segment, needs_replay = self._unretired[0]
            if needs_replay:
                await self._write_all(read_segment(segment))
            self._journal.retire(segment)
            self._unretired.pop(0)

    async def _write_all(self, records: Iterable[UsageRecord]) -> None:
        batch: list[UsageRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) == BATCH_SIZE:
                await usage.write_batch(self._pool(), batch)
                batch = []
        if batch:
            await usage.write_batch(self._pool(), batch)

    async def _replay_orphans(self) -> None:
        while True:
            try:
                for segment, records in self._journal.orphans():
                    await self._write_all(records)
                    self._journal.retire(segment)
                    logger.info("replayed %d usage records from %s", len(records), segment.name)
                return
            except _DB_ERRORS as exc:
                logger.warning("journal replay waits for the database (%s)", type(exc).__name__)
                await asyncio.sleep(2.0)
