"""Limits as clients meet them: headers, 429s, budgets, and exact totals across processes."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest
from redis import asyncio as aioredis

from gateway.limits.buckets import Amounts, Bucket
from gateway.limits.memory import window_of
from gateway.limits.redis_limiter import RedisLimiter
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.metrics import Metrics
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory

ROUTING: dict[str, Any] = {
    "providers": {"demo": {"adapter": "demo"}},
    "models": {
        "demo": {
            "deployments": [
                {"provider": "demo", "model": "demo", "price": {"input": 1000, "output": 1000}}
            ]
        }
    },
}
CHAT = {"model": "demo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
ONE_REQUEST: Amounts = {"requests": 1, "concurrency": 1}  # what a bare limiter call charges


async def new_key(pool: asyncpg.Pool, slug: str = "acme", **limits: Any) -> str:
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, slug, slug.title(), plan="enterprise")
    created = await manage_keys.create(pool, actor, slug, KeySettings(name="k", **limits))
    return created.secret


async def post(session: aiohttp.ClientSession, base_url: str, key: str) -> tuple[int, Any, Any]:
    async with session.post(
        base_url + "/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        return response.status, response.headers.copy(), await response.json()


async def test_headers_count_down_then_429_names_the_limit(
    start_gateway: GatewayFactory, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, rpm=3)
    base_url = await start_gateway(ROUTING)
    async with aiohttp.ClientSession() as session:
        seen = []
        for _ in range(3):
            status, headers, _ = await post(session, base_url, key)
            assert status == 200
            assert headers["x-ratelimit-limit-requests"] == "3"
            seen.append(headers["x-ratelimit-remaining-requests"])
        status, headers, body = await post(session, base_url, key)
    assert seen == ["2", "1", "0"]
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert "requests per minute for this key" in body["error"]["message"]


async def test_budget_refuses_with_insufficient_quota(
    start_gateway: GatewayFactory, pool: asyncpg.Pool
) -> None:
    # $1000 per 1M tokens: each request costs about a cent; a 3-cent daily budget.
    key = await new_key(pool, budget_usd=Decimal("0.03"), budget_period="day")
    base_url = await start_gateway(ROUTING)
    async with aiohttp.ClientSession() as session:
        statuses = [(await post(session, base_url, key))[0] for _ in range(8)]
        status, _, body = await post(session, base_url, key)
    assert statuses[0] == 200 and 429 in statuses
    assert status == 429 and body["error"]["code"] == "insufficient_quota"
    spent = await pool.fetchval("SELECT sum(cost_usd) FROM usage")  # settled with real cost
    assert spent is None or spent <= Decimal("0.03") + Decimal("0.02")


async def test_two_processes_sharing_redis_admit_exactly_the_limit(
    start_gateway: GatewayFactory, pool: asyncpg.Pool, redis_url: str
) -> None:
    key = await new_key(pool, rpm=100)
    settings = {"redis": {"url": redis_url}, "limits": {"backend": "redis"}}
    first = await start_gateway(ROUTING, **settings)
    second = await start_gateway(ROUTING, **settings)
    connector = aiohttp.TCPConnector(limit=300)
    async with aiohttp.ClientSession(connector=connector) as session:
        results = await asyncio.gather(
            *(post(session, first if i % 2 else second, key) for i in range(300))
        )
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 100, statuses.count(200)
    assert statuses.count(429) == 200


async def test_redis_down_fails_open_or_closed_as_configured(
    start_gateway: GatewayFactory, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool, rpm=2)
    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    open_url = await start_gateway(
        ROUTING, redis={"url": down}, limits={"backend": "redis", "redis_failure": "open"}
    )
    closed_url = await start_gateway(
        ROUTING, redis={"url": down}, limits={"backend": "redis", "redis_failure": "closed"}
    )
    async with aiohttp.ClientSession() as session:
        fallback = [(await post(session, open_url, key))[0] for _ in range(3)]
        status, _, body = await post(session, closed_url, key)
    assert fallback == [200, 200, 429]  # per-process limits still hold
    assert status == 503 and body["error"]["code"] == "limits_unavailable"


@pytest.mark.parametrize("period", ["minute", "day", "month"])
async def test_lua_windows_match_python(redis_url: str, period: str) -> None:
    """The script computes windows on the Redis clock; they must agree with ours."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        limiter = RedisLimiter(client, Metrics(), fail_open=False)
        bucket = Bucket(f"mb:{{t:test}}:{period}", "requests", period, 10, "x")  # type: ignore[arg-type]
        decision = await limiter.acquire([bucket], ONE_REQUEST, "req")
        seconds, micros = await client.time()
        window, reset = window_of(period, seconds + micros / 1e6)  # type: ignore[arg-type]
    finally:
        await client.aclose()
    assert decision.charges[0].window == window
    assert abs(decision.charges[0].reset_seconds - reset) < 2


async def test_token_limits_settle_to_real_usage_across_processes(
    start_gateway: GatewayFactory, pool: asyncpg.Pool, redis_url: str
) -> None:
    """Each request reserves prompt + max_tokens (~501) but uses ~6: without reconciliation
    a 1000-token minute would refuse the third request."""
    key = await new_key(pool, "tok", tpm=1000)
    settings = {"redis": {"url": redis_url}, "limits": {"backend": "redis"}}
    urls = [await start_gateway(ROUTING, **settings), await start_gateway(ROUTING, **settings)]
    body = {**CHAT, "max_tokens": 500}
    async with aiohttp.ClientSession() as session:
        remaining = []
        for i in range(10):
            async with session.post(
                urls[i % 2] + "/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            ) as response:
                assert response.status == 200, await response.text()
                remaining.append(int(response.headers["x-ratelimit-remaining-tokens"]))
    # The demo answers in 11 tokens (1 prompt, 10 output): nine settled, one reserved.
    assert remaining[-1] == 1000 - 9 * 11 - 501


async def test_retry_after_is_when_the_next_request_gets_through() -> None:
    from gateway.limits.memory import MemoryLimiter

    now = [1_800_000_000.0 + 42.5]  # 17.5 s before a minute ends
    limiter = MemoryLimiter(clock=lambda: now[0])
    bucket = Bucket("mb:{t:x}:k:rpm", "requests", "minute", 2, "requests per minute")
    assert (await limiter.acquire([bucket], ONE_REQUEST, "a")).admitted
    assert (await limiter.acquire([bucket], ONE_REQUEST, "b")).admitted
    refused = await limiter.acquire([bucket], ONE_REQUEST, "c")
    assert not refused.admitted and refused.retry_after == pytest.approx(17.5)
    now[0] += refused.retry_after - 0.01
    assert not (
        await limiter.acquire([bucket], ONE_REQUEST, "d")
    ).admitted  # not a moment too early
    now[0] += 0.02
    assert (await limiter.acquire([bucket], ONE_REQUEST, "e")).admitted
