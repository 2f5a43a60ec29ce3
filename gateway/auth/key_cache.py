"""The in-process cache in front of the key table: the request path's only way to a key.

A hit costs a dict lookup. A miss loads from the database once, however many requests wait
for the same key (single flight). Unknown keys are remembered briefly too, so a flood of bad
keys costs one query per distinct key per `negative_ttl`, not one per request. Entries are
dropped at once on invalidation (LISTEN/NOTIFY or Redis pub/sub); the TTL is only a backstop
for a missed notification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T | None
    fresh_until: float


class KeyCache(Generic[T]):
    def __init__(
        self,
        load: Callable[[bytes], Awaitable[T | None]],
        *,
        ttl: float = 300.0,
        negative_ttl: float = 5.0,
        max_entries: int = 100_000,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_entries = max_entries
        self._entries: dict[bytes, _Entry[T]] = {}
        self._loading: dict[bytes, asyncio.Future[T | None]] = {}
        # Bumped by every invalidation, so a load that raced one is not cached stale.
        self._generation = 0
        self.loads = 0  # database reads, for tests and metrics

    async def get(self, key_hash: bytes) -> T | None:
        entry = self._entries.get(key_hash)
        if entry is not None and entry.fresh_until > time.monotonic():
            return entry.value
        pending = self._loading.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._loading[key_hash] = future
        generation = self._generation
        try:
            self.loads += 1
            value = await self._load(key_hash)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must see it
            raise
        finally:
            del self._loading[key_hash]
        if generation == self._generation:
            self._store(key_hash, value)
        future.set_result(value)
        return value

    def _store(self, key_hash: bytes, value: T | None) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # crude but bounded; a warm set refills from the database
        ttl = self._ttl if value is not None else self._negative_ttl
        self._entries[key_hash] = _Entry(value, time.monotonic() + ttl)

    def invalidate(self, key_hash: bytes) -> None:
        self._generation += 1
        self._entries.pop(key_hash, None)

    def invalidate_where(self, stale: Callable[[T], bool]) -> None:
        self._generation += 1
        for key_hash in [k for k, e in self._entries.items() if e.value and stale(e.value)]:
            del self._entries[key_hash]

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
