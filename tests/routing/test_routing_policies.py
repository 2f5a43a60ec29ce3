"""Aliases, A/B splits, usage-based routing, deadlines, SIGHUP reload and a broken cache."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.gateway_calls import call, group, providers

Start = Any


async def test_aliases_and_policy_aliases_resolve_as_configured(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    cheap, good = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, cheap=cheap, good=good),
        "models": {
            "small": group("cheap", cheap={"price": {"input": 0.1, "output": 0.2}, "quality": 0.3}),
            "large": group("good", good={"price": {"input": 5, "output": 15}, "quality": 0.9}),
        },
        "aliases": {"gpt-fast": "small"},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        deployments = {
            alias: (await call(session, base, alias))[1]["x-model-bridge-deployment"]
            for alias in ("gpt-fast", "cheapest", "best")
        }
    assert deployments == {
        "gpt-fast": "small:cheap:m",
        "cheapest": "small:cheap:m",
        "best": "large:good:m",
    }


async def test_a_split_sends_its_share_and_says_which_variant(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    control, candidate = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, a=control, b=candidate),
        "models": {"m": group("a", split={"model": "v2", "share": 0.3}), "v2": group("b")},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(call(session, base, "m") for _ in range(300)))
    variants = [headers["x-model-bridge-variant"] for _, headers, _ in results]
    share = variants.count("v2") / 300
    assert 0.2 <= share <= 0.4 and variants.count("control") == len(control.requests)


async def test_usage_based_moves_traffic_from_a_deployment_near_its_rpm(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    small, big = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, small=small, big=big),
        "models": {
            "m": group("small", "big", strategy="usage-based", small={"rpm": 10}, big={"rpm": 1000})
        },
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        for _ in range(60):
            await call(session, base, "m")
    assert len(small.requests) <= 3 < len(big.requests)


async def test_the_deadline_bounds_retries_and_fallbacks(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    slow = FakeOpenAI(status=503, delay_before_headers=0.4)
    routing = {
        "providers": await providers(start_upstream, up=slow),
        "models": {"m": group("up", retries=10)},
        "router": {"deadline_seconds": 1.0, "backoff_base_seconds": 0.01},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        started = asyncio.get_running_loop().time()
        status, _, _ = await call(session, base, "m")
        elapsed = asyncio.get_running_loop().time() - started
    assert status == 503 and elapsed < 2.0 and len(slow.requests) <= 4


async def test_sighup_reloads_the_routing_file(
    start_gateway: GatewayFactory, start_upstream: Start, tmp_path: Path
) -> None:
    import os
    import signal

    fake = FakeOpenAI()
    routing = {"providers": await providers(start_upstream, up=fake), "models": {"m": group("up")}}
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(routing))
    base = await start_gateway(routing, routing_path=path)
    path.write_text(yaml.safe_dump({**routing, "models": {"m": group("up"), "n": group("up")}}))
    os.kill(os.getpid(), signal.SIGHUP)  # the app handles it on this loop, in this process
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # well inside the file watcher's one-second poll
            await asyncio.sleep(0.02)
            if (await call(session, base, "n"))[0] == 200:
                break
        assert (await call(session, base, "n"))[0] == 200


async def test_a_broken_cache_backend_never_fails_a_request(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    fake = FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", cache={"enabled": True})},
    }
    base = await start_gateway(
        routing, redis={"url": "redis://127.0.0.1:1/0"}, cache={"backend": "redis"}
    )
    async with aiohttp.ClientSession() as session:
        assert [(await call(session, base, "m"))[0] for _ in range(2)] == [200, 200]
        async with session.get(base.removesuffix("/v1") + "/metrics") as response:
            text = await response.text()
    assert 'model_bridge_cache_errors_total{operation="get"} 2.0' in text
    assert len(fake.requests) == 2
