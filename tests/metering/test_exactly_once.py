"""One usage record per client request, whatever happened below: retries, a fallback, an
upstream error, a stream the client walked away from."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from tests.conftest import MASTER_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI

HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}


async def test_one_record_per_request_across_retries_fallbacks_errors_and_cut_streams(
    start_gateway: GatewayFactory, start_upstream: Any, pool: asyncpg.Pool
) -> None:
    primary, backup = FakeOpenAI(), FakeOpenAI(delay_between_chunks=0.2)
    routing = {
        "providers": {
            "primary": {
                "adapter": "openai",
                "api_base": await start_upstream(primary.app()) + "/v1",
            },
            "backup": {"adapter": "openai", "api_base": await start_upstream(backup.app()) + "/v1"},
        },
        "models": {
            "m": {
                "retries": 1,
                "fallbacks": ["b"],
                "deployments": [{"provider": "primary", "model": "m"}],
            },
            "b": {"deployments": [{"provider": "backup", "model": "m"}]},
        },
        "router": {"backoff_base_seconds": 0.01},
    }
    base = await start_gateway(routing)
    body = {"model": "m", "messages": [{"role": "user", "content": "count me once"}]}
    expected: dict[str, tuple[int, int]] = {}  # request id -> (status, attempts)
    async with aiohttp.ClientSession() as session:

        async def send(**extra: Any) -> None:
            async with session.post(
                base + "/chat/completions", json={**body, **extra}, headers=HEADERS
            ) as response:
                await response.read()
                expected[response.headers["x-request-id"]] = (
                    response.status,
                    int(response.headers.get("x-model-bridge-attempts", 0)),
                )

        primary.enqueue(status=500)
        await send()  # retried once on the primary
        for _ in range(2):
            primary.enqueue(status=503)
        await send()  # fell back to the other model
        primary.enqueue(status=400)
        await send()  # the provider refused: not retried
        async with session.post(
            base + "/chat/completions", headers=HEADERS, json={**body, "model": "b", "stream": True}
        ) as response:
            cut_id = response.headers["x-request-id"]
            await response.content.readany()  # the first chunk, then the client leaves
        expected[cut_id] = (499, 1)
    for _ in range(100):
        rows = await pool.fetch("SELECT request_id, status, attempts, token_source FROM usage")
        if len(rows) >= len(expected) and any(r["request_id"] == cut_id for r in rows):
            break
        await asyncio.sleep(0.1)
    found = {r["request_id"]: (r["status"], r["attempts"]) for r in rows}
    assert len(rows) == len(expected)  # exactly one each: nothing doubled, nothing lost
    assert found == expected | {k: found[k] for k in ()}
    assert [v for k, v in found.items() if k != cut_id] == [(200, 2), (200, 3), (400, 1)]
