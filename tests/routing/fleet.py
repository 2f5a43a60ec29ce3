"""Several fake providers behind one gateway, and the ways routing tests call it.

Each `FakeOpenAI` is one provider row and so one deployment; which deployment served a
request is read from `x-model-bridge-deployment` and cross-checked with what each fake
recorded.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import openai
from aiohttp import web

from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import MASTER_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI

StartUpstream = Callable[[web.Application], Awaitable[str]]
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
HI = [{"role": "user", "content": "hi"}]
# Breakers that open after two failures and cool down in half a second; backoff all but nil.
FAST_ROUTER = {
    "breaker": {"consecutive_failures": 2, "cooldown_seconds": 0.5},
    "backoff_base_seconds": 0.01,
}
_ACTOR = Actor(type="system", label="routing tests")


async def providers(start_upstream: StartUpstream, **fakes: FakeOpenAI) -> dict[str, Any]:
    """One provider row per fake, named as given."""
    return {
        name: {"adapter": "openai", "api_base": await start_upstream(fake.app()) + "/v1"}
        for name, fake in fakes.items()
    }


def unreachable_provider() -> dict[str, Any]:
    """A provider row at a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {"adapter": "openai", "api_base": f"http://127.0.0.1:{port}/v1"}


def group(*names: str, **options: Any) -> dict[str, Any]:
    """A model group with one deployment (upstream model `m`) per provider name; options
    named like a provider are that deployment's, the rest the group's."""
    per_deployment = {name: options.pop(name, {}) for name in names}
    return {
        "deployments": [{"provider": n, "model": "m", **per_deployment[n]} for n in names],
        **options,
    }


async def one_model(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    fakes: dict[str, FakeOpenAI],
    **options: Any,
) -> str:
    """A gateway serving model `m`: one deployment per fake, in order; `options` as for
    `group`. Returns its base URL."""
    routing = {
        "providers": await providers(start_upstream, **fakes),
        "models": {"m": group(*fakes, **options)},
    }
    return await start_gateway(routing)


def price(input_usd: float) -> dict[str, Any]:
    return {"price": {"input": input_usd, "output": input_usd}}


def primary_and_spare(fakes: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Model `m`: `primary` (cheaper, so tried first) then `spare`, one retry each, under
    `FAST_ROUTER`."""
    return {
        "providers": fakes,
        "models": {
            "m": group(
                "primary",
                "spare",
                strategy="lowest-cost",
                retries=1,
                primary=price(1.0),
                spare=price(2.0),
                **options,
            )
        },
        "router": FAST_ROUTER,
    }


async def tenant_key(pool: asyncpg.Pool, slug: str, new: bool = True, **settings: Any) -> str:
    """A key of tenant `slug` (created first unless `new` is false), with `settings`."""
    if new:
        await manage_tenants.create(pool, _ACTOR, slug, slug.upper(), plan="enterprise")
    created = await manage_keys.create(pool, _ACTOR, slug, KeySettings(name="k", **settings))
    return created.secret


@asynccontextmanager
async def sdk(base_url: str, api_key: str = MASTER_KEY) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key, max_retries=0, timeout=30
    ) as client:
        yield client


async def chat(
    client: openai.AsyncOpenAI, model: str, headers: Mapping[str, str] | None = None, **params: Any
) -> tuple[Mapping[str, str], Any]:
    """A plain chat completion: the response headers and the SDK's parsed object."""
    raw = await client.chat.completions.with_raw_response.create(
        model=model, messages=params.pop("messages", HI), extra_headers=headers, **params
    )
    return raw.headers, raw.parse()


async def chat_stream(
    client: openai.AsyncOpenAI, model: str, headers: Mapping[str, str] | None = None, **params: Any
) -> tuple[Mapping[str, str], list[Any]]:
    """A streamed chat completion: the response headers and every chunk (stream closed)."""
    raw = await client.chat.completions.with_raw_response.create(
        model=model,
        messages=params.pop("messages", HI),
        stream=True,
        extra_headers=headers,
        **params,
    )
    async with raw.parse() as stream:
        return raw.headers, [chunk async for chunk in stream]


async def status_of(call: Awaitable[Any]) -> int:
    """The HTTP status a call ended with, whether the SDK returned or raised."""
    try:
        await call
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def streamed_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def served_by(headers: Mapping[str, str]) -> str:
    return headers["x-model-bridge-deployment"]


async def post_chat(
    session: aiohttp.ClientSession, base: str, model: str, stream: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """A chat completion over plain HTTP, for the raw status, headers and bytes."""
    body = {"model": model, "messages": HI, "stream": stream}
    async with session.post(base + "/chat/completions", json=body, headers=AUTH) as response:
        return response.status, dict(response.headers), await response.read()


async def bounded(count: int, concurrency: int, one: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """`one(i)` for i in range(count), at most `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> Any:
        async with gate:
            return await one(i)

    return list(await asyncio.gather(*(run(i) for i in range(count))))


async def admin(
    session: aiohttp.ClientSession, base_url: str, method: str, path: str
) -> tuple[int, Any]:
    """An admin API call with the master key; `base_url` is the gateway's …/v1."""
    url = base_url.removesuffix("/v1") + "/admin/api" + path
    async with session.request(method, url, headers=AUTH) as response:
        return response.status, await response.json(content_type=None)


async def deployment_health(base_url: str, deployment_id: str) -> dict[str, Any]:
    """What the admin API reports of one deployment: breaker state, recent outcomes …"""
    async with aiohttp.ClientSession() as session:
        status, body = await admin(session, base_url, "GET", "/routing")
    assert status == 200
    found = {d["id"]: d for m in body["models"] for d in m["deployments"]}
    return found[deployment_id]  # type: ignore[no-any-return]


async def breaker_state(base_url: str, deployment_id: str) -> str:
    return (await deployment_health(base_url, deployment_id))["state"]  # type: ignore[no-any-return]


async def metric(session: aiohttp.ClientSession, base_url: str, sample: str) -> float:
    """The value of one Prometheus sample (name with labels, as exposed); 0 when absent."""
    async with session.get(base_url.removesuffix("/v1") + "/metrics") as response:
        text = await response.text()
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0
