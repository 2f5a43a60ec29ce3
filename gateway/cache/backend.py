"""Where cache entries live: the interface, and the in-process backend.

The in-process backend is an LRU bounded by the bytes it holds, with a TTL per entry; right
for one process. The Redis backend (several processes) implements the same two calls.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

from redis.exceptions import RedisError

_PREFIX = "mb:cache:"


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...


class MemoryCache:
    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if len(value) > self._max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._bytes += len(value)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)


class CacheBackendError(Exception):
    """The backend failed; the cache stage counts it and serves without the cache."""


class RedisCache:
    """Shared by every process. Keys are already per-tenant hashes; values are JSON bytes."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def get(self, key: str) -> bytes | None:
        try:
            value: bytes | None = await self._client.get(_PREFIX + key)
        except RedisError as exc:
            raise CacheBackendError(type(exc).__name__) from exc
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        try:
            await self._client.set(_PREFIX + key, value, px=max(1, int(ttl_seconds * 1000)))
        except RedisError as exc:
            raise CacheBackendError(type(exc).__name__) from exc
