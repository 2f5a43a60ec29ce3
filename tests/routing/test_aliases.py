"""Model names clients may send besides a group's own: explicit aliases, the built-in
policy aliases (chosen among the models of the request's mode that the key may use), and
what a budget reserves for a request made by any of them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_answers import DEFAULT_REPLY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    StartUpstream,
    chat,
    group,
    price,
    providers,
    sdk,
    served_by,
    tenant_key,
)


async def alias_gateway(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> tuple[str, dict[str, FakeOpenAI]]:
    """Three chat models and one embedding model, one fake each, and explicit aliases."""
    fakes = {name: FakeOpenAI() for name in ("small", "large", "middle", "embedder")}
    routing = {
        "providers": await providers(start_upstream, **fakes),
        "models": {
            "small": group("small", small={**price(0.1), "quality": 0.4}),
            "large": group("large", large={**price(5.0), "quality": 0.9}),
            "middle": group("middle", middle={**price(1.0), "quality": 0.6}),
            # Cheapest and best of all, but it embeds: never a chat alias's choice.
            "embedder": {
                "mode": "embedding",
                **group("embedder", embedder={**price(0.01), "quality": 1.0}),
            },
        },
        "aliases": {"fast-chat": "small", "smart": "large", "vectors": "embedder"},
    }
    return await start_gateway(routing), fakes


@pytest.mark.parametrize(
    ("operation", "requested", "group_name"),
    [
        ("chat", "fast-chat", "small"),
        ("chat", "smart", "large"),
        ("chat", "cheapest", "small"),
        ("chat", "best", "large"),
        ("chat", "middle", "middle"),
        ("embeddings", "vectors", "embedder"),
        ("embeddings", "cheapest", "embedder"),
        ("embeddings", "best", "embedder"),
    ],
    ids=[
        "explicit-fast-chat",
        "explicit-smart",
        "policy-cheapest",
        "policy-best",
        "plain-name",
        "embeddings-explicit",
        "embeddings-policy-cheapest",
        "embeddings-policy-best",
    ],
)
async def test_aliases_resolve_as_configured(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    operation: str,
    requested: str,
    group_name: str,
) -> None:
    """Policy aliases choose among the models of the request's mode only."""
    base, fakes = await alias_gateway(start_gateway, start_upstream)
    async with sdk(base) as client:
        if operation == "chat":
            headers, reply = await chat(client, requested)
            assert reply.choices[0].message.content == DEFAULT_REPLY
        else:
            raw = await client.embeddings.with_raw_response.create(model=requested, input="x")
            headers = raw.headers
            assert len(raw.parse().data) == 1
    assert served_by(headers) == f"{group_name}:{group_name}:m"
    assert {n: len(f.requests) for n, f in fakes.items() if f.requests} == {group_name: 1}
    assert fakes[group_name].last.path == f"/v1/{operation.replace('chat', 'chat/completions')}"


async def test_policy_alias_chooses_among_the_models_the_key_may_use(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, pool: asyncpg.Pool
) -> None:
    base, fakes = await alias_gateway(start_gateway, start_upstream)
    key = await tenant_key(pool, "narrow", allowed_models=["middle", "large"])
    async with sdk(base, key) as client:
        cheapest, _ = await chat(client, "cheapest")
        best, _ = await chat(client, "best")
    assert served_by(cheapest) == "middle:middle:m"  # `small` is cheaper, but not allowed
    assert served_by(best) == "large:large:m"
    assert fakes["small"].requests == []


async def test_fastest_picks_the_group_measured_fastest(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    quick, slow = FakeOpenAI(), FakeOpenAI(delay_before_headers=0.2)
    routing = {
        "providers": await providers(start_upstream, quick=quick, slow=slow),
        "models": {"slow": group("slow"), "quick": group("quick")},
    }
    base = await start_gateway(routing)
    async with sdk(base) as client:
        await chat(client, "slow")
        await chat(client, "quick")
        for _ in range(5):
            headers, _ = await chat(client, "fastest")
            assert served_by(headers) == "quick:quick:m"
    assert len(slow.requests) == 1


@pytest.mark.parametrize(
    ("requested", "routing_extra"),
    [
        ("pricey", {}),
        ("expensive", {"aliases": {"expensive": "pricey"}}),
        ("best", {}),
        ("cheap", {"models": {"cheap": group("free", split={"model": "pricey", "share": 0.01})}}),
    ],
    ids=["model", "explicit-alias", "policy-alias", "split-away"],
)
async def test_a_budget_reserves_the_price_of_the_model_an_alias_reaches(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    pool: asyncpg.Pool,
    requested: str,
    routing_extra: dict[str, Any],
) -> None:
    """Before the call, the dearest price the request may cost is reserved: at $1000 per
    million tokens, 1000 output tokens cost a dollar, over a five-cent budget. However the
    request names the model, it is refused before any provider is asked."""
    dear, free = FakeOpenAI(), FakeOpenAI()
    routing: dict[str, Any] = {
        "providers": await providers(start_upstream, dear=dear, free=free),
        "models": {"pricey": group("dear", dear={**price(1000.0), "quality": 0.9})},
    }
    for section, rows in routing_extra.items():
        routing[section] = {**routing.get(section, {}), **rows}
    base = await start_gateway(routing)
    key = await tenant_key(pool, "thrifty", budget_usd=Decimal("0.05"), budget_period="day")
    async with sdk(base, key) as client:
        with pytest.raises(openai.RateLimitError) as refused:
            await chat(client, requested, max_tokens=1000)
        await chat(client, requested, max_tokens=1)  # not vacuous: one that fits is served
    assert refused.value.code == "insufficient_quota"
    assert len(dear.requests) + len(free.requests) == 1  # the one that fitted, only
