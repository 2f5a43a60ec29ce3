"""`last_used_at`, recorded in memory per request and written in batches off the hot path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from gateway.store import keys

logger = logging.getLogger(__name__)


class KeyUseRecorder:
    def __init__(self, pool: Callable[[], Any], interval: float = 5.0) -> None:
        self._pool = pool  # a getter: the pool is created after the recorder
        self._interval = interval
        self._pending: dict[str, float] = {}

    def mark(self, key_id: str) -> None:
        self._pending[key_id] = time.time()

    async def flush(self) -> None:
        batch, self._pending = self._pending, {}
        if not batch:
            return
        used = {UUID(k): datetime.fromtimestamp(at, UTC) for k, at in batch.items()}
        try:
            await keys.touch(self._pool(), used)
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("could not record key use (%s); will retry", type(exc).__name__)
            for key_id, at in batch.items():
                self._pending.setdefault(key_id, at)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()
