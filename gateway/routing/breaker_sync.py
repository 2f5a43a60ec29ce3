"""Circuit-breaker state shared across gateway processes through Redis pub/sub.

Each process still decides from memory; when a breaker opens or closes here, the change is
published, and every other process applies it. Nothing waits on Redis on the request path:
publishing goes through a queue, and a lost message only means a process learns of a bad
deployment by failing on it itself, as it would without Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import orjson
from redis.exceptions import RedisError

from gateway.routing.health import HealthBoard

logger = logging.getLogger(__name__)
CHANNEL = "mb:breakers"


class BreakerSync:
    def __init__(self, client: Any, board: HealthBoard) -> None:
        self._client = client
        self._board = board
        self._me = f"{os.getpid()}-{id(self)}"
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        board.on_transition = self._announce

    def _announce(self, deployment_id: str, state: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a burst of flaps: drop, don't block
            self._outbox.put_nowait(
                orjson.dumps({"from": self._me, "id": deployment_id, "state": state})
            )

    async def run(self, ready: asyncio.Event) -> None:
        await asyncio.gather(self._publish(), self._listen(ready))

    async def _publish(self) -> None:
        while True:
            message = await self._outbox.get()
            try:
                await self._client.publish(CHANNEL, message)
            except (RedisError, OSError) as exc:
                logger.warning("breaker change not shared (%s)", type(exc).__name__)

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._apply(message["data"])
            except (RedisError, OSError) as exc:
                logger.warning("breaker sync lost Redis (%s); retrying", type(exc).__name__)
                ready.set()  # serving does not wait for Redis
                await asyncio.sleep(2.0)

    def _apply(self, data: bytes) -> None:
        change = orjson.loads(data)
        if change.get("from") != self._me:
            self._board.apply_remote(change["id"], change["state"], time.monotonic())
