"""Breaker state is shared through Redis: what one process learned, the others skip."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import StartUpstream, post_chat, primary_and_spare, providers, served_by


async def test_an_open_breaker_in_one_process_is_skipped_by_the_other(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, redis_url: str
) -> None:
    broken, healthy = FakeOpenAI(status=500), FakeOpenAI()
    routing = primary_and_spare(await providers(start_upstream, primary=broken, spare=healthy))
    routing["models"]["m"]["retries"] = 0
    routing["router"] = {"breaker": {"consecutive_failures": 2, "cooldown_seconds": 60}}
    first = await start_gateway(routing, redis={"url": redis_url})
    second = await start_gateway(routing, redis={"url": redis_url})
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # the broken deployment fails twice in the first process
            status, headers, _ = await post_chat(session, first, "m")
            assert (status, headers["x-model-bridge-attempts"]) == (200, "2")
        seen_by_broken = len(broken.requests)
        for _ in range(50):  # the news travels through Redis
            await asyncio.sleep(0.05)
            status, headers, _ = await post_chat(session, second, "m")
            assert status == 200
            if headers["x-model-bridge-attempts"] == "1":
                break
    assert served_by(headers) == "m:spare:m"
    assert len(broken.requests) <= seen_by_broken + 1  # at most one before the news arrived
