"""Where cache entries live: the interface, and the in-process backend.

The in-process backend is an LRU bounded by the bytes it holds, with a TTL per entry; right
for one process. The Redis backend (several processes) implements the same two calls.
"""

from __future__ import annotations

import asyncio
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
    """Shared by every process. Keys are already per-tenant hashes; values are JSON bytes.

    A lookup costs the gateway a round trip, mostly client CPU rather than Redis time. One
    made while nothing is in flight goes at once; those made while one is in flight wait
    and go together in one `MGET` (one key per entry: identical requests share it).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._waiting: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._busy = False  # a lookup is in flight
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: str) -> bytes | None:
        if self._busy:
            value: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(_PREFIX + key, []).append(value)
            return await value
        self._busy = True
        try:
            stored: bytes | None = await self._client.get(_PREFIX + key)
        except RedisError as exc:
            raise CacheBackendError(type(exc).__name__) from exc
        finally:
            self._next()
        return stored

    def _next(self) -> None:
        """A lookup has returned: send those that waited for it, or go idle."""
        if not self._waiting:
            self._busy = False
            return
        waiting, self._waiting = self._waiting, {}
        self._reader = asyncio.get_running_loop().create_task(self._read(waiting))

    async def _read(self, waiting: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        try:
            try:
                values: list[Any] = await self._client.mget(list(waiting))
            except RedisError as exc:
                failure = CacheBackendError(type(exc).__name__)
                failure.__cause__ = exc
                values = [failure] * len(waiting)
            except Exception as exc:  # each lookup fails as it would have alone
                values = [exc] * len(waiting)
            except BaseException:
                for futures in waiting.values():
                    for future in futures:
                        future.cancel()
                raise
            for futures, stored in zip(waiting.values(), values, strict=True):
                for future in futures:
                    if future.done():
                        continue  # its request was cancelled meanwhile
                    if isinstance(stored, Exception):
                        future.set_exception(stored)
                    else:
                        future.set_result(stored)
        finally:
            self._next()

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        try:
            await self._client.set(_PREFIX + key, value, px=max(1, int(ttl_seconds * 1000)))
        except RedisError as exc:
            raise CacheBackendError(type(exc).__name__) from exc
