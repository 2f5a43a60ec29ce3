"""Building blocks for routing tests: several fake providers behind one model."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.conftest import MASTER_KEY

HEADERS = {"Authorization": f"Bearer {MASTER_KEY}"}
HELLO = {"messages": [{"role": "user", "content": "hi"}]}


async def call(
    session: aiohttp.ClientSession, base_url: str, model: str, **extra: Any
) -> tuple[int, Any, Any]:
    headers = {**HEADERS, **extra.pop("headers", {})}
    async with session.post(
        base_url + "/chat/completions", headers=headers, json={"model": model, **HELLO, **extra}
    ) as response:
        body = await response.read()
        return response.status, response.headers.copy(), body


async def steady_load(
    session: aiohttp.ClientSession, base_url: str, model: str, count: int, concurrency: int
) -> None:
    """`count` requests, at most `concurrency` at a time: a steady load, not one burst."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call(session, base_url, model)

    await asyncio.gather(*(one() for _ in range(count)))


async def providers(start_upstream: Any, **fakes: Any) -> dict[str, Any]:
    return {
        name: {"adapter": "openai", "api_base": await start_upstream(f.app()) + "/v1"}
        for name, f in fakes.items()
    }


def group(*names: str, **options: Any) -> dict[str, Any]:
    return {
        "deployments": [{"provider": n, "model": "m", **options.pop(n, {})} for n in names],
        **options,
    }
