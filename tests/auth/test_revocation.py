"""Revoking a key, or suspending its tenant, reaches every gateway process within a second."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import openai

from gateway.demo import demo_routing
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import GatewayFactory

ACTOR = Actor(type="system", label="test")
HELLO = [{"role": "user", "content": "hi"}]


async def refused_within(clients: list[openai.AsyncOpenAI], error: type[Exception]) -> float:
    """Seconds until every client's request fails with `error`."""
    started = time.monotonic()
    pending = list(clients)
    while pending and time.monotonic() - started < 5:
        for client in list(pending):
            try:
                await client.chat.completions.create(model="demo", messages=HELLO)
            except error:
                pending.remove(client)
        await asyncio.sleep(0.02)
    assert not pending
    return time.monotonic() - started


async def test_revocation_and_suspension_reach_two_processes_within_a_second(
    start_gateway: GatewayFactory, pool: asyncpg.Pool
) -> None:
    await manage_tenants.create(pool, ACTOR, "acme", "Acme", plan="enterprise")
    key = await manage_keys.create(pool, ACTOR, "acme", KeySettings(name="ci"))
    other = await manage_keys.create(pool, ACTOR, "acme", KeySettings(name="other"))
    routing = demo_routing().model_dump(mode="json")
    urls = [await start_gateway(routing), await start_gateway(routing)]
    clients = [openai.AsyncOpenAI(base_url=u, api_key=key.secret, max_retries=0) for u in urls]
    others = [openai.AsyncOpenAI(base_url=u, api_key=other.secret, max_retries=0) for u in urls]
    try:
        for client in clients + others:  # warm: the keys are now in both processes' caches
            await client.chat.completions.create(model="demo", messages=HELLO)
        await manage_keys.revoke(pool, ACTOR, key.key.tenant_id, key.key.id)
        assert await refused_within(clients, openai.AuthenticationError) < 1.0
        for client in others:  # the other key is untouched
            await client.chat.completions.create(model="demo", messages=HELLO)
        await manage_tenants.set_status(pool, ACTOR, "acme", "suspended")
        assert await refused_within(others, openai.PermissionDeniedError) < 1.0
        await manage_tenants.set_status(pool, ACTOR, "acme", "active")
        await asyncio.sleep(0.3)
        for client in others:
            await client.chat.completions.create(model="demo", messages=HELLO)
    finally:
        for client in clients + others:
            await client.close()
