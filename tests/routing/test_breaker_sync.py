"""Breaker state is shared through Redis: what one process learned, the others skip."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import MASTER_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI


async def test_an_open_breaker_in_one_process_is_skipped_by_the_other(
    start_gateway: GatewayFactory, start_upstream: Any, redis_url: str
) -> None:
    broken, healthy = FakeOpenAI(status=500), FakeOpenAI()
    routing = {
        "providers": {
            "broken": {"adapter": "openai", "api_base": await start_upstream(broken.app()) + "/v1"},
            "healthy": {
                "adapter": "openai",
                "api_base": await start_upstream(healthy.app()) + "/v1",
            },
        },
        "models": {
            "m": {
                "strategy": "lowest-cost",
                "retries": 0,
                "deployments": [
                    {"provider": "broken", "model": "m", "price": {"input": 1, "output": 1}},
                    {"provider": "healthy", "model": "m", "price": {"input": 2, "output": 2}},
                ],
            }
        },
        "router": {"breaker": {"consecutive_failures": 2, "cooldown_seconds": 60}},
    }
    settings = {"redis": {"url": redis_url}}
    first = await start_gateway(routing, **settings)
    second = await start_gateway(routing, **settings)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # the broken deployment fails twice in the first process
            async with session.post(
                first + "/chat/completions", json=body, headers=headers
            ) as response:
                assert response.status == 200
                assert response.headers["x-model-bridge-attempts"] == "2"
        seen_by_broken = len(broken.requests)
        for _ in range(50):  # the news travels through Redis
            await asyncio.sleep(0.05)
            async with session.post(
                second + "/chat/completions", json=body, headers=headers
            ) as response:
                assert response.status == 200
                if response.headers["x-model-bridge-attempts"] == "1":
                    break
        assert response.headers["x-model-bridge-deployment"] == "m:healthy:m"
    assert len(broken.requests) <= seen_by_broken + 1  # at most one before the news arrived
