"""The response cache: misses and hits, what bypasses it, refreshing an entry, what is part
of the key, tenant isolation, replaying entries as streams (and storing streams whole), the
Redis backend shared by two processes, and a cache backend that fails."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_answers import DEFAULT_REPLY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    AUTH,
    HI,
    StartUpstream,
    chat,
    chat_stream,
    group,
    metric,
    providers,
    sdk,
    streamed_text,
    tenant_key,
    unreachable_provider,
)

ON = {"enabled": True}


async def cached_gateway(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    fake: FakeOpenAI,
    model_cache: dict[str, Any] | None = ON,
    router_cache: dict[str, Any] | None = None,
    **settings: Any,
) -> str:
    model: dict[str, Any] = group("up", retries=0)
    if model_cache is not None:
        model["cache"] = model_cache
    routing: dict[str, Any] = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": model, "other": group("up")},
        "aliases": {"m-alias": "m"},
    }
    if router_cache is not None:
        routing["router"] = {"cache": router_cache}
    return await start_gateway(routing, **settings)


@pytest.mark.parametrize(
    ("model_cache", "router_cache"),
    [(ON, None), (None, ON), ({"enabled": True, "ttl_seconds": 60}, {"enabled": False})],
    ids=["model-policy", "router-default", "model-overrides-router"],
)
async def test_a_miss_then_a_hit_reaches_upstream_once(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    model_cache: dict[str, Any] | None,
    router_cache: dict[str, Any] | None,
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake, model_cache, router_cache)
    async with sdk(base) as client:
        first, miss = await chat(client, "m")
        second, hit = await chat(client, "m")
    assert (first["x-model-bridge-cache"], second["x-model-bridge-cache"]) == ("miss", "hit")
    assert len(fake.requests) == 1
    assert hit.model_dump() == miss.model_dump()
    assert "x-model-bridge-deployment" not in second  # no deployment was asked
    async with aiohttp.ClientSession() as session:  # the provider's tokens, counted once
        sample = 'gen_ai_client_token_usage_total{model="m",type="input"}'
        assert miss.usage is not None
        assert await metric(session, base, sample) == miss.usage.prompt_tokens


async def test_a_models_own_policy_can_switch_the_router_default_off(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(
        start_gateway, start_upstream, fake, model_cache={"enabled": False}, router_cache=ON
    )
    async with sdk(base) as client:
        seen = [(await chat(client, "m"))[0]["x-model-bridge-cache"] for _ in range(2)]
        other = [(await chat(client, "other"))[0]["x-model-bridge-cache"] for _ in range(2)]
    assert seen == ["bypass", "bypass"] and other == ["miss", "hit"]
    assert len(fake.requests) == 3


@pytest.mark.parametrize("operation", ["embeddings", "completions"])
async def test_other_operations_are_cached_too(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, operation: str
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake)
    async with sdk(base) as client:
        answers = []
        for _ in range(2):
            if operation == "embeddings":
                raw = await client.embeddings.with_raw_response.create(model="m", input="hi")
            else:
                raw = await client.completions.with_raw_response.create(model="m", prompt="hi")
            answers.append((raw.headers["x-model-bridge-cache"], raw.parse().model_dump()))
    assert [status for status, _ in answers] == ["miss", "hit"]
    assert answers[0][1] == answers[1][1]
    assert len(fake.requests) == 1 and fake.last.path == f"/v1/{operation}"


@pytest.mark.parametrize(
    ("params", "headers", "model_cache"),
    [
        ({"temperature": 0.7}, {}, ON),
        ({"n": 2}, {}, ON),
        ({}, {"Cache-Control": "no-store"}, ON),
        ({}, {"Cache-Control": "max-age=0, No-Store"}, ON),
        ({}, {"x-model-bridge-cache": "bypass"}, ON),
    ],
    ids=["temperature-0.7", "n-2", "no-store", "no-store-in-a-list", "bypass-header"],
)
async def test_what_bypasses_the_cache_neither_reads_nor_stores(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    params: dict[str, Any],
    headers: dict[str, str],
    model_cache: dict[str, Any],
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake, model_cache)
    async with sdk(base) as client:
        await chat(client, "m", **params)  # would be a stored entry, were it cached
        seen = [(await chat(client, "m", headers, **params))[0] for _ in range(2)]
        assert [h["x-model-bridge-cache"] for h in seen] == ["bypass", "bypass"]
        assert len(fake.requests) == 3
        if headers:  # the bypassed calls stored nothing: the plain one still hits its own
            plain, _ = await chat(client, "m", **params)
            assert plain["x-model-bridge-cache"] == "hit" and len(fake.requests) == 3


async def test_nondeterministic_requests_are_cached_when_the_policy_says_so(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fake = FakeOpenAI()
    policy = {"enabled": True, "deterministic_only": False}
    base = await cached_gateway(start_gateway, start_upstream, fake, policy)
    async with sdk(base) as client:
        seen = [(await chat(client, "m", temperature=0.7))[0] for _ in range(2)]
    assert [h["x-model-bridge-cache"] for h in seen] == ["miss", "hit"]
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [{"Cache-Control": "no-cache"}, {"x-model-bridge-cache": "refresh"}],
    ids=["cache-control-no-cache", "refresh-header"],
)
async def test_a_refresh_calls_upstream_and_replaces_the_entry(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, headers: dict[str, str]
) -> None:
    fake = FakeOpenAI(reply="first answer")
    base = await cached_gateway(start_gateway, start_upstream, fake)
    async with sdk(base) as client:
        await chat(client, "m")
        fake.reply = "second answer"
        refreshed_headers, refreshed = await chat(client, "m", headers)
        assert len(fake.requests) == 2
        later_headers, later = await chat(client, "m")
    assert refreshed_headers["x-model-bridge-cache"] == "miss"
    assert refreshed.choices[0].message.content == "second answer"
    assert later_headers["x-model-bridge-cache"] == "hit"
    assert later.choices[0].message.content == "second answer"  # replaced, not the first
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"user": "someone-else"}, "hit"),
        ({"metadata": {"trace": "x"}}, "hit"),
        ({"model": "m-alias"}, "hit"),
        ({"max_tokens": 2}, "miss"),
        ({"seed": 7}, "miss"),
        ({"messages": [{"role": "user", "content": "hello"}]}, "miss"),
        ({"model": "other"}, "miss"),
    ],
    ids=["user", "metadata", "alias-of-the-group", "max_tokens", "seed", "messages", "model"],
)
async def test_the_key_holds_what_changes_the_answer_and_nothing_else(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    change: dict[str, Any],
    outcome: str,
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake, router_cache=ON)
    async with sdk(base) as client:
        await chat(client, "m")
        headers, _ = await chat(client, change.pop("model", "m"), **change)
    assert headers["x-model-bridge-cache"] == outcome
    assert len(fake.requests) == (1 if outcome == "hit" else 2)


async def test_tenants_never_share_entries(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, pool: asyncpg.Pool
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake)
    keys = {slug: await tenant_key(pool, slug) for slug in ("north", "south")}
    seen: list[tuple[str, str, str]] = []
    for _ in range(2):
        for slug, key in keys.items():
            fake.reply = f"answer for {slug}"
            async with sdk(base, key) as client:
                headers, reply = await chat(client, "m")
            seen.append((slug, headers["x-model-bridge-cache"], reply.choices[0].message.content))
    assert seen == [
        ("north", "miss", "answer for north"),
        ("south", "miss", "answer for south"),
        ("north", "hit", "answer for north"),
        ("south", "hit", "answer for south"),
    ]
    assert len(fake.requests) == 2


async def test_a_hit_never_skips_the_model_permission_check(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, pool: asyncpg.Pool
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake)
    broad = await tenant_key(pool, "acme")
    narrow = await tenant_key(pool, "acme", new=False, allowed_models=["other"])  # same tenant
    async with sdk(base, broad) as client:
        await chat(client, "m")
    async with sdk(base, narrow) as client:
        with pytest.raises(openai.PermissionDeniedError):
            await chat(client, "m")
    assert len(fake.requests) == 1


@pytest.mark.parametrize("include_usage", [False, True], ids=["no-usage", "include-usage"])
async def test_a_plain_answer_is_replayed_to_a_stream(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, include_usage: bool
) -> None:
    fake = FakeOpenAI(reply="one two three four five")
    base = await cached_gateway(start_gateway, start_upstream, fake)
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    async with sdk(base) as client:
        _, whole = await chat(client, "m")
        headers, chunks = await chat_stream(client, "m", **options)
    assert headers["x-model-bridge-cache"] == "hit" and len(fake.requests) == 1
    assert headers["content-type"].startswith("text/event-stream")
    assert streamed_text(chunks) == whole.choices[0].message.content
    assert chunks[0].id == whole.id and chunks[0].object == "chat.completion.chunk"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage
    else:
        assert all(c.usage is None for c in chunks)


async def test_a_streamed_answer_is_stored_whole_for_plain_requests(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fake = FakeOpenAI(reply="one two three four five")
    base = await cached_gateway(start_gateway, start_upstream, fake)
    async with sdk(base) as client:
        streamed_headers, chunks = await chat_stream(client, "m")
        headers, whole = await chat(client, "m")
        again_headers, again = await chat_stream(client, "m")
    assert streamed_headers["x-model-bridge-cache"] == "miss"
    assert headers["x-model-bridge-cache"] == "hit" and len(fake.requests) == 1
    assert whole.object == "chat.completion" and whole.id == chunks[0].id
    assert whole.choices[0].message.content == streamed_text(chunks) == "one two three four five"
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.completion_tokens == 5
    assert again_headers["x-model-bridge-cache"] == "hit"
    assert streamed_text(again) == streamed_text(chunks)


@pytest.mark.parametrize("failure", ["upstream-error", "stream-dropped"])
async def test_failures_are_never_stored(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, failure: str
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake)
    async with sdk(base) as client:
        if failure == "upstream-error":
            fake.enqueue(status=500)
            with pytest.raises(openai.InternalServerError):
                await chat(client, "m")
        else:
            fake.enqueue(drop_mid_stream=3)
            with pytest.raises(openai.APIError):
                await chat_stream(client, "m")
        headers, reply = await chat(client, "m")
    assert headers["x-model-bridge-cache"] == "miss"
    assert reply.choices[0].message.content == DEFAULT_REPLY
    assert len(fake.requests) == 2


async def test_the_redis_cache_is_shared_by_two_processes(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, redis_url: str
) -> None:
    fake = FakeOpenAI(reply="shared answer")
    settings = {"redis": {"url": redis_url}, "cache": {"backend": "redis"}}
    first = await cached_gateway(start_gateway, start_upstream, fake, **settings)
    second = await cached_gateway(start_gateway, start_upstream, fake, **settings)
    async with sdk(first) as one, sdk(second) as other:
        miss, _ = await chat(one, "m", seed=12345)  # a seed no other test's entry has
        hit, reply = await chat(other, "m", seed=12345)
    assert (miss["x-model-bridge-cache"], hit["x-model-bridge-cache"]) == ("miss", "hit")
    assert len(fake.requests) == 1 and reply.choices[0].message.content == "shared answer"


async def test_a_failing_cache_backend_never_fails_a_request(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    """The configured Redis is down (nothing listens on its port): every lookup and store
    fails, is counted, and the requests are served from upstream."""
    fake = FakeOpenAI()
    down = unreachable_provider()["api_base"].removesuffix("/v1").replace("http", "redis")
    base = await cached_gateway(
        start_gateway,
        start_upstream,
        fake,
        redis={"url": down + "/0"},
        cache={"backend": "redis"},
    )
    async with sdk(base) as client:
        plain = [(await chat(client, "m"))[0]["x-model-bridge-cache"] for _ in range(2)]
        streamed_headers, chunks = await chat_stream(client, "m")
    assert plain == ["miss", "miss"] and streamed_headers["x-model-bridge-cache"] == "miss"
    assert streamed_text(chunks) == DEFAULT_REPLY
    assert len(fake.requests) == 3
    async with aiohttp.ClientSession(headers=AUTH) as session:
        gets = await metric(session, base, 'model_bridge_cache_errors_total{operation="get"}')
        sets = await metric(session, base, 'model_bridge_cache_errors_total{operation="set"}')
    assert (gets, sets) == (3.0, 3.0)


async def test_a_stream_hit_is_well_formed_sse(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fake = FakeOpenAI()
    base = await cached_gateway(start_gateway, start_upstream, fake)
    body = {"model": "m", "messages": HI}
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(base + "/chat/completions", json=body) as response:
            assert response.status == 200
        stream_body = {**body, "stream": True}
        async with session.post(base + "/chat/completions", json=stream_body) as response:
            assert response.headers["x-model-bridge-cache"] == "hit"
            text = await response.text()
    *events, tail = text.split("\n\n")
    assert tail == "" and events[-1] == "data: [DONE]"
    assert all(e.startswith("data: {") and "\n" not in e for e in events[:-1])
