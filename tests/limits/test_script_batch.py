"""Concurrent limiter calls share round trips to Redis, and each still gets its own answer."""

from __future__ import annotations

import asyncio

import pytest
from redis import asyncio as aioredis

from gateway.limits.buckets import Bucket
from gateway.limits.redis_limiter import RedisLimiter
from gateway.limits.script_batch import hash_tag
from gateway.metrics import Metrics
from tests.limits.test_rate_limits import ONE_REQUEST


def _par(tenant: str, limit: int) -> Bucket:
    return Bucket(f"mb:{{t:{tenant}}}:par", "concurrency", "inflight", limit, "concurrent")


def _rpm(tenant: str, limit: int) -> Bucket:
    return Bucket(f"mb:{{t:{tenant}}}:rpm", "requests", "minute", limit, "per minute")


async def _evalsha_count(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_concurrent_calls_share_round_trips_and_keep_their_own_answers(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.flushdb()
        limiter = RedisLimiter(client, Metrics(), fail_open=False)
        await limiter.acquire([_rpm("warm", 100)], ONE_REQUEST, "warm")  # loads the script
        before = await _evalsha_count(client)
        tenants = ("a", "b")
        decisions = await asyncio.gather(
            *(
                limiter.acquire([_par(tenant, 3), _rpm(tenant, 100)], ONE_REQUEST, f"{tenant}{i}")
                for tenant in tenants
                for i in range(5)
            )
        )
        calls = await _evalsha_count(client) - before
        admitted = {
            t: [d.admitted for d in decisions[i * 5 : i * 5 + 5]] for i, t in enumerate(tenants)
        }
        # In submission order: each tenant's first three hold its three slots.
        assert admitted == {t: [True, True, True, False, False] for t in tenants}
        # The first went alone; the nine that came while it was in flight, one per slot.
        assert calls == 1 + len(tenants)

        for i, decision in enumerate(decisions[:3]):
            await limiter.settle(decision.charges, {"tokens": 0.0, "budget": 0.0}, f"a{i}")
        again = await limiter.acquire([_par("a", 3)], ONE_REQUEST, "a-again")
        assert again.admitted and again.charges[0].remaining == 2  # settles freed the slots
    finally:
        await client.aclose()


async def test_each_caller_gets_the_batch_failure() -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        limiter = RedisLimiter(client, Metrics(), fail_open=True)
        decisions = await asyncio.gather(
            *(limiter.acquire([_rpm("x", 2)], ONE_REQUEST, f"r{i}") for i in range(3))
        )
    finally:
        await client.aclose()
    # Every caller fell back to per-process limits, which still hold.
    assert [d.admitted for d in decisions] == [True, True, False]
    assert all(c.local for d in decisions for c in d.charges)


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("mb:{t:acme}:k:1:rpm", "t:acme"),
        ("mb:{}:x", "mb:{}:x"),
        ("plain", "plain"),
        ("a{b}{c}", "b"),
        ("a{b", "a{b"),
    ],
    ids=["tenant-tag", "empty-tag", "no-tag", "first-tag", "unclosed"],
)
def test_hash_tag_follows_redis_cluster(key: str, tag: str) -> None:
    assert hash_tag(key) == tag


async def test_a_window_counter_expires_after_its_window(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.flushdb()
        limiter = RedisLimiter(client, Metrics(), fail_open=False)
        first = await limiter.acquire([_rpm("ttl", 100)], ONE_REQUEST, "r1")
        second = await limiter.acquire([_rpm("ttl", 100)], ONE_REQUEST, "r2")
        counter = f"{_rpm('ttl', 100).key}:{first.charges[0].window}"
        ttl = await client.ttl(counter)
        used = float(await client.get(counter))
    finally:
        await client.aclose()
    assert used == 2 and second.charges[0].remaining == 98
    assert first.charges[0].reset_seconds + 59 <= ttl <= first.charges[0].reset_seconds + 61
