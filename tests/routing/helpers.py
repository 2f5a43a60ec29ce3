"""Building blocks for routing tests: several fake providers behind one model."""

from __future__ import annotations

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
