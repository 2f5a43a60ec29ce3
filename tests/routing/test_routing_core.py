"""Strategies, failover, breakers, cache and reload, against real fake providers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.gateway_calls import HEADERS, call, group, providers, steady_load

Start = Any


async def test_weighted_split_follows_the_weights(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    a, b = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, a=a, b=b),
        "models": {"m": group("a", "b", a={"weight": 3}, b={"weight": 1})},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(call(session, base, "m") for _ in range(400)))
    share = len(a.requests) / 400
    assert 0.65 <= share <= 0.85, share


async def test_retry_then_fallback_and_never_retry_client_errors(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    primary, backup = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, primary=primary, backup=backup),
        "models": {"m": group("primary", retries=1, fallbacks=["b"]), "b": group("backup")},
        "router": {"backoff_base_seconds": 0.01},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        primary.enqueue(status=500)
        status, headers, _ = await call(session, base, "m")
        assert (status, headers["x-model-bridge-attempts"]) == (200, "2")
        assert headers["x-model-bridge-deployment"] == "m:primary:m"
        primary.enqueue(status=503)
        primary.enqueue(status=503)
        status, headers, _ = await call(session, base, "m")
        assert status == 200 and headers["x-model-bridge-deployment"] == "b:backup:m"
        assert headers["x-model-bridge-attempts"] == "3"
        before = len(primary.requests)
        primary.enqueue(status=400)
        status, _, body = await call(session, base, "m")
        assert status == 400 and len(primary.requests) == before + 1  # not retried
        assert orjson.loads(body)["error"]["message"]


async def test_retry_after_is_honoured(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    fake = FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", retries=1)},
        "router": {"backoff_base_seconds": 0.01, "retry_after_cap_seconds": 5},
    }
    base = await start_gateway(routing)
    fake.enqueue(status=429, retry_after=1)
    async with aiohttp.ClientSession() as session:
        started = asyncio.get_running_loop().time()
        status, _, _ = await call(session, base, "m")
        waited = asyncio.get_running_loop().time() - started
    assert status == 200 and 0.9 <= waited < 3


async def test_context_window_errors_go_to_the_context_fallback(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    small, large = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, small=small, large=large),
        "models": {"m": group("small", context_window_fallbacks=["big"]), "big": group("large")},
    }
    base = await start_gateway(routing)
    small.enqueue(
        status=400,
        body={
            "error": {
                "message": "This model's maximum context length is 8192 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
    )
    async with aiohttp.ClientSession() as session:
        status, headers, _ = await call(session, base, "m")
    assert status == 200 and headers["x-model-bridge-deployment"] == "big:large:m"


async def test_breaker_opens_skips_then_probes_and_closes(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    flaky, steady = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, flaky=flaky, steady=steady),
        "models": {
            "m": group(
                "flaky",
                "steady",
                strategy="lowest-cost",
                retries=0,
                flaky={"price": {"input": 1}},
                steady={"price": {"input": 2}},
            )
        },
        "router": {"breaker": {"consecutive_failures": 2, "cooldown_seconds": 0.5}},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            flaky.enqueue(status=500)
            assert (await call(session, base, "m"))[0] == 200
        seen = len(flaky.requests)
        for _ in range(5):  # open: the cheap but broken deployment is skipped
            _, headers, _ = await call(session, base, "m")
            assert headers["x-model-bridge-deployment"] == "m:steady:m"
        assert len(flaky.requests) == seen
        await asyncio.sleep(0.6)  # cool-down over: one probe, which succeeds and closes
        _, headers, _ = await call(session, base, "m")
        assert headers["x-model-bridge-deployment"] == "m:flaky:m"
        _, headers, _ = await call(session, base, "m")
        assert headers["x-model-bridge-deployment"] == "m:flaky:m"


async def test_cache_hit_miss_bypass_refresh_and_stream_replay(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    fake = FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", cache={"enabled": True})},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        statuses = [(await call(session, base, "m"))[1]["x-model-bridge-cache"] for _ in range(2)]
        assert statuses == ["miss", "hit"] and len(fake.requests) == 1
        _, headers, _ = await call(session, base, "m", temperature=0.7)
        assert headers["x-model-bridge-cache"] == "bypass"
        _, headers, _ = await call(session, base, "m", headers={"Cache-Control": "no-store"})
        assert headers["x-model-bridge-cache"] == "bypass"
        count = len(fake.requests)
        _, headers, _ = await call(session, base, "m", headers={"x-model-bridge-cache": "refresh"})
        assert headers["x-model-bridge-cache"] == "miss" and len(fake.requests) == count + 1
        _, _, whole = await call(session, base, "m")
        _, headers, streamed = await call(session, base, "m", stream=True)
    assert headers["x-model-bridge-cache"] == "hit"
    content = orjson.loads(whole)["choices"][0]["message"]["content"]
    events = [line[6:] for line in streamed.split(b"\n") if line.startswith(b"data: {")]
    replayed = "".join(
        (orjson.loads(e)["choices"] or [{"delta": {}}])[0]["delta"].get("content") or ""
        for e in events
    )
    assert replayed == content and streamed.endswith(b"data: [DONE]\n\n")


@pytest.mark.slow
async def test_reload_under_load_drops_nothing(
    start_gateway: GatewayFactory, start_upstream: Start, tmp_path: Path
) -> None:
    fake = FakeOpenAI()
    routing = {"providers": await providers(start_upstream, up=fake), "models": {"m": group("up")}}
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(routing))
    base = await start_gateway(routing, routing_path=path)
    root = base.removesuffix("/v1")

    async def rewrite() -> None:
        for i in range(4):
            await asyncio.sleep(0.4)
            changed = {**routing, "models": {**routing["models"], f"new{i}": group("up")}}
            path.write_text(yaml.safe_dump(changed))
            async with (
                aiohttp.ClientSession() as session,
                session.post(root + "/admin/api/routing/reload", headers=HEADERS) as response,
            ):
                assert response.status == 200, await response.text()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as session:
        results, _ = await asyncio.gather(
            asyncio.gather(*(call(session, base, "m") for _ in range(1000))), rewrite()
        )
        assert [s for s, _, _ in results].count(200) == 1000
        assert (await call(session, base, "new3"))[0] == 200
        path.write_text("providers: {up: {adapter: nope}}\nmodels: {}\n")
        async with session.post(root + "/admin/api/routing/reload", headers=HEADERS) as r:
            assert r.status == 400 and "unknown adapter" in (await r.json())["error"]
        async with session.get(root + "/admin/api/routing", headers=HEADERS) as r:
            assert (await r.json())["last_reload"]["ok"] is False
        assert (await call(session, base, "m"))[0] == 200  # the old routing still serves
        async with session.get(root + "/metrics") as r:
            assert 'model_bridge_routing_reloads_total{result="rejected"}' in await r.text()


async def test_tenants_never_share_cache_entries(
    start_gateway: GatewayFactory, start_upstream: Start, pool: Any
) -> None:
    from gateway.management import keys as manage_keys
    from gateway.management import tenants as manage_tenants
    from gateway.store.audit import Actor
    from gateway.store.keys import KeySettings

    actor = Actor(type="system", label="test")
    secrets = []
    for slug in ("one", "two"):
        await manage_tenants.create(pool, actor, slug, slug, plan="enterprise")
        secrets.append((await manage_keys.create(pool, actor, slug, KeySettings(name="k"))).secret)
    fake = FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", cache={"enabled": True})},
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        seen = []
        for secret in (*secrets, *secrets):
            _, headers, _ = await call(
                session, base, "m", headers={"Authorization": f"Bearer {secret}"}
            )
            seen.append(headers["x-model-bridge-cache"])
    assert seen == ["miss", "miss", "hit", "hit"] and len(fake.requests) == 2


async def test_least_busy_and_lowest_latency_prefer_the_right_deployment(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    slow, fast = FakeOpenAI(delay_before_headers=0.3), FakeOpenAI()
    for strategy in ("least-busy", "lowest-latency"):
        routing = {
            "providers": await providers(start_upstream, slow=slow, fast=fast),
            "models": {"m": group("slow", "fast", strategy=strategy)},
        }
        base = await start_gateway(routing)
        slow.requests.clear()
        fast.requests.clear()
        async with aiohttp.ClientSession() as session:
            for _ in range(2):  # warm-up: each deployment measured once
                await call(session, base, "m")
            await steady_load(session, base, "m", count=40, concurrency=4)
        assert len(fast.requests) > 3 * len(slow.requests), (strategy, len(slow.requests))


async def test_unreachable_deployment_fails_over_to_the_next(
    start_gateway: GatewayFactory, start_upstream: Start
) -> None:
    healthy = FakeOpenAI()
    routing = {
        "providers": {
            **await providers(start_upstream, healthy=healthy),
            "gone": {"adapter": "openai", "api_base": "http://127.0.0.1:1/v1"},
        },
        "models": {
            "m": group(
                "gone",
                "healthy",
                strategy="lowest-cost",
                retries=0,
                gone={"price": {"input": 1}},
                healthy={"price": {"input": 2}},
            )
        },
    }
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        status, headers, _ = await call(session, base, "m")
    assert status == 200 and headers["x-model-bridge-deployment"] == "m:healthy:m"


async def test_the_redis_cache_is_shared_by_two_processes(
    start_gateway: GatewayFactory, start_upstream: Start, redis_url: str
) -> None:
    fake = FakeOpenAI(reply="shared answer")
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", cache={"enabled": True})},
    }
    settings = {"redis": {"url": redis_url}, "cache": {"backend": "redis"}}
    first, second = (
        await start_gateway(routing, **settings),
        await start_gateway(routing, **settings),
    )
    async with aiohttp.ClientSession() as session:
        _, miss, _ = await call(session, first, "m", seed=12345)
        _, hit, body = await call(session, second, "m", seed=12345)
    assert (miss["x-model-bridge-cache"], hit["x-model-bridge-cache"]) == ("miss", "hit")
    assert len(fake.requests) == 1 and b"shared answer" in body
