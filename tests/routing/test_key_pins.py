"""Keys pinned to tags (data residency) only ever reach deployments carrying them."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg

from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI

ACTOR = Actor(type="system", label="test")


async def test_a_pinned_key_stays_in_its_region_and_fails_clearly_outside_it(
    start_gateway: GatewayFactory, start_upstream: Any, pool: asyncpg.Pool
) -> None:
    eu, us = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": {
            "eu": {"adapter": "openai", "api_base": await start_upstream(eu.app()) + "/v1"},
            "us": {"adapter": "openai", "api_base": await start_upstream(us.app()) + "/v1"},
        },
        "models": {
            "both": {
                "deployments": [
                    {"provider": "eu", "model": "m", "tags": {"region": "eu"}},
                    {"provider": "us", "model": "m", "tags": {"region": "us"}},
                ]
            },
            "us-only": {
                "deployments": [{"provider": "us", "model": "m", "tags": {"region": "us"}}]
            },
        },
    }
    await manage_tenants.create(pool, ACTOR, "acme", "Acme", plan="enterprise")
    key = await manage_keys.create(
        pool, ACTOR, "acme", KeySettings(name="eu", pinned_tags={"region": "eu"})
    )
    base_url = await start_gateway(routing)
    headers = {"Authorization": f"Bearer {key.secret}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            async with session.post(
                base_url + "/chat/completions",
                headers=headers,
                json={
                    "model": "both",
                    "messages": [{"role": "user", "content": "hi"}],
                },
            ) as response:
                assert response.status == 200
        async with session.post(
            base_url + "/chat/completions",
            headers=headers,
            json={
                "model": "us-only",
                "messages": [{"role": "user", "content": "hi"}],
            },
        ) as response:
            status, body = response.status, await response.json()
    assert len(eu.requests) == 30 and us.requests == []
    assert status == 400 and body["error"]["code"] == "no_deployment_in_region"
