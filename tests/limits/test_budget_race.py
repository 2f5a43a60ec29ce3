"""Concurrent requests against a budget: reservations are atomic, so none overshoots."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest

from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory
from tests.limits.test_rate_limits import CHAT, ROUTING

# Each request costs exactly what is reserved: 1 prompt + 5 output tokens at $1000 / 1M.
PER_REQUEST = Decimal("0.006")


@pytest.mark.parametrize("shared", [False, True], ids=["one-process", "two-processes-redis"])
async def test_fifty_concurrent_requests_against_a_budget_worth_ten(
    start_gateway: GatewayFactory, pool: asyncpg.Pool, redis_url: str, shared: bool
) -> None:
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, "acme", "Acme", plan="enterprise")
    key = await manage_keys.create(
        pool,
        actor,
        "acme",
        KeySettings(name="k", budget_usd=PER_REQUEST * 10, budget_period="day"),
    )
    settings: dict[str, Any] = (
        {"redis": {"url": redis_url}, "limits": {"backend": "redis"}} if shared else {}
    )
    urls = [await start_gateway(ROUTING, **settings)]
    if shared:
        urls.append(await start_gateway(ROUTING, **settings))
    headers = {"Authorization": f"Bearer {key.secret}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:

        async def one(i: int) -> int:
            async with session.post(
                urls[i % len(urls)] + "/chat/completions", json=CHAT, headers=headers
            ) as response:
                return response.status

        statuses = await asyncio.gather(*(one(i) for i in range(50)))
    assert statuses.count(200) == 10 and statuses.count(429) == 40
    for _ in range(50):
        rows = await pool.fetch("SELECT cost_usd FROM usage WHERE status = 200")
        if len(rows) == 10:
            break
        await asyncio.sleep(0.1)
    spent = sum(r["cost_usd"] for r in rows)
    assert spent <= PER_REQUEST * 10  # the documented bound; here exact reservations: zero
