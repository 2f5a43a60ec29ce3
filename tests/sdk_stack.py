"""The gateway in front of a fake OpenAI, and the official SDK (sync or async) to call it,
shared by the SDK test modules as fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.conftest import MASTER_KEY, GatewayFactory, routing_for
from tests.fakes.openai_upstream import (
    FakeOpenAI,
    Recorded,
)
from tests.schemas.openai import ERROR_RESPONSE
from tests.schemas.validation import assert_valid

PROVIDER_KEY = "sk-provider-secret"  # what routing_for configures for provider `up`
UPSTREAM_MODEL = "gpt-4o-mini-upstream"
EMBEDDING_UPSTREAM_MODEL = "text-embedding-3-small-upstream"
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
CHAT = [{"role": "user", "content": "Say hello to the gateway"}]
PROMPT_TOKENS = 5  # the fake counts words
COMPLETION_TOKENS = 4  # "Hello from fake upstream", one token a word
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather at a place.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
ROUTED_MODELS = {"gpt-4o-mini", "text-embedding-3-small", "demo", "demo-embed"}

StartUpstream = Callable[[web.Application], Awaitable[str]]


# --- the servers ------------------------------------------------------------------------


@dataclass
class Stack:
    """The gateway (`gateway`, ending in /v1) in front of the fake (`upstream`, its root)."""

    fake: FakeOpenAI
    upstream: str
    gateway: str


@pytest.fixture
async def stack(start_gateway: GatewayFactory, start_upstream: StartUpstream) -> Stack:
    fake = FakeOpenAI(api_key=PROVIDER_KEY)
    upstream = await start_upstream(fake.app())
    return Stack(fake, upstream, await start_gateway(routing(upstream)))


def routing(upstream: str) -> dict[str, Any]:
    """conftest's routing, with the embedding model renamed upstream too."""
    config = routing_for(upstream + "/v1")
    config["models"]["text-embedding-3-small"]["deployments"][0]["model"] = EMBEDDING_UPSTREAM_MODEL
    return config


def port_of(url: str) -> int:
    port = re.search(r":(\d+)", url.removeprefix("http://"))
    assert port is not None, url
    return int(port.group(1))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the SDK, sync or async -------------------------------------------------------------


class SDK:
    """One face for both clients. The sync client's calls run in a thread, because the
    gateway and the fake run on this test's event loop."""

    def __init__(self, client: openai.OpenAI | openai.AsyncOpenAI) -> None:
        self.client = client

    async def run(self, call: Callable[[Any], Any]) -> Any:
        """`call(client)`, awaited if the client is async."""
        if isinstance(self.client, openai.AsyncOpenAI):
            return await call(self.client)
        return await asyncio.to_thread(call, self.client)

    async def raw(self, call: Callable[[Any], Any]) -> tuple[Any, Any]:
        """`call(client.with_raw_response)`: the SDK's parsed object and the JSON as sent."""
        response = await self.run(lambda client: call(client.with_raw_response))
        return response.parse(), json.loads(response.content)

    async def stream(self, **params: Any) -> list[Any]:
        """Every chunk of a chat stream, the stream always closed."""
        if isinstance(self.client, openai.AsyncOpenAI):
            stream = await self.client.chat.completions.create(stream=True, **params)
            async with stream:
                return [chunk async for chunk in stream]
        client = self.client

        def collect() -> list[Any]:
            with client.chat.completions.create(stream=True, **params) as stream:
                return list(stream)

        return await asyncio.to_thread(collect)


SDKFactory = Callable[[str], Awaitable[SDK]]


@pytest.fixture(params=["sync", "async"])
async def open_sdk(request: pytest.FixtureRequest) -> AsyncIterator[SDKFactory]:
    """Opens SDK clients on a gateway URL; all are closed when the test ends."""
    async with contextlib.AsyncExitStack() as clients:

        async def open_(base_url: str) -> SDK:
            options: dict[str, Any] = {
                "base_url": base_url,
                "api_key": MASTER_KEY,
                "max_retries": 0,
                "timeout": 20,
            }
            if request.param == "sync":
                return SDK(clients.enter_context(openai.OpenAI(**options)))
            return SDK(await clients.enter_async_context(openai.AsyncOpenAI(**options)))

        yield open_


@pytest.fixture
async def sdk(stack: Stack, open_sdk: SDKFactory) -> SDK:
    return await open_sdk(stack.gateway)


# --- raw HTTP, where the SDK would hide extra or missing fields -----------------------


async def post(
    url: str, body: Any = None, *, data: bytes | None = None
) -> tuple[int, Mapping[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, data=data, headers=AUTH) as response,
    ):
        return response.status, response.headers.copy(), await response.read()


async def raw_stream(base_url: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a chat stream as the gateway wrote them, after checking the framing:
    one `data:` line per event, ending with `[DONE]`."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(base_url + "/chat/completions", json=body, headers=AUTH) as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        text = await response.text()
    *events, tail = text.split("\n\n")
    assert tail == "", "the stream must end with a complete event"
    assert events[-1] == "data: [DONE]"
    for event in events:
        assert event.startswith("data: ") and "\n" not in event, event
    return [json.loads(event.removeprefix("data: ")) for event in events[:-1]]


# --- what must and must not reach either side -----------------------------------------


def assert_forwarded_as_provider(recorded: Recorded, model: str = UPSTREAM_MODEL) -> None:
    """The provider's key went upstream with the upstream model name; the client's key
    did not, in any header or in the body."""
    assert recorded.headers.getall("Authorization") == [f"Bearer {PROVIDER_KEY}"]
    assert "api-key" not in recorded.headers and "x-api-key" not in recorded.headers
    for name, value in recorded.headers.items():
        assert MASTER_KEY not in value, f"the client's key went upstream in {name}"
    assert MASTER_KEY.encode() not in recorded.body
    assert recorded.json["model"] == model


def assert_safe_error(
    status: int, headers: Mapping[str, str], body: bytes, upstream_port: int
) -> dict[str, Any]:
    """OpenAI's error shape, all four keys, and neither the provider key nor the provider's
    address in the body or any header. Returns the error object."""
    payload = json.loads(body)
    assert_valid(payload, ERROR_RESPONSE)
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    exposed = body.decode() + "\n" + "\n".join(f"{k}: {v}" for k, v in headers.items())
    assert PROVIDER_KEY not in exposed
    assert not re.search(rf"127\.0\.0\.1:{upstream_port}(?!\d)", exposed), exposed
    assert status >= 400
    error: dict[str, Any] = payload["error"]
    return error


def assert_safe_sdk_error(exc: openai.APIStatusError, upstream_port: int) -> dict[str, Any]:
    response = exc.response
    return assert_safe_error(
        response.status_code, response.headers, response.content, upstream_port
    )
