"""The Redis cache backend: lookups made together share one round trip, each with its own
answer, and a failure reaches every lookup the way the cache stage expects it."""

from __future__ import annotations

import asyncio

import pytest
from redis import asyncio as aioredis

from gateway.cache.backend import CacheBackendError, RedisCache


async def _mget_count(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_concurrent_lookups_share_one_round_trip(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        cache = RedisCache(client)
        await cache.set("a", b"A", 60)
        await cache.set("b", b"B", 60)
        before = await _mget_count(client)
        found = await asyncio.gather(*(cache.get(k) for k in ("a", "b", "missing", "a")))
        calls = await _mget_count(client) - before
    finally:
        await client.aclose()
    assert found == [b"A", b"B", None, b"A"]
    assert calls == 1


async def test_a_failing_redis_fails_every_lookup_as_a_backend_error() -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        cache = RedisCache(client)
        results = await asyncio.gather(
            *(cache.get(k) for k in ("a", "b", "a")), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert [type(r) for r in results] == [CacheBackendError] * 3


async def test_a_cancelled_lookup_leaves_the_others_their_answers(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        cache = RedisCache(client)
        await cache.set("c", b"C", 60)
        kept = asyncio.create_task(cache.get("c"))  # goes at once
        cancelled = asyncio.create_task(cache.get("c"))  # waits for it
        also_kept = asyncio.create_task(cache.get("c"))
        await asyncio.sleep(0)
        cancelled.cancel()
        assert await kept == b"C"
        assert await also_kept == b"C"
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    finally:
        await client.aclose()
