"""The official `openai` SDK, sync and async, against the gateway in front of a fake OpenAI.

What the README promises a client: answers that match OpenAI's published schema field for
field (checked on the raw bytes, which the SDK's lenient models would hide), streams with and
without `include_usage`, tools, JSON modes, embeddings in both encodings, the routing file's
models, and every error raised as the SDK's usual exception class with OpenAI's four keys,
the provider's key and address nowhere in sight. Upstream, the fake records that the provider
key (never the client's) went out, with the upstream model name and every unknown field.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.conftest import MASTER_KEY, GatewayFactory, routing_for
from tests.fakes.openai_upstream import (
    DEFAULT_REPLY,
    TOOL_ARGUMENTS,
    FakeOpenAI,
    Recorded,
    openai_error,
    vector_for,
)
from tests.schemas.openai import (
    CHAT_COMPLETION,
    EMBEDDING_LIST,
    ERROR_RESPONSE,
    MODEL,
    MODEL_LIST,
    assert_valid,
    assert_valid_stream,
)

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


# --- chat -------------------------------------------------------------------------------


async def test_chat(sdk: SDK, stack: Stack) -> None:
    reply, body = await sdk.raw(
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT)
    )
    assert_valid(body, CHAT_COMPLETION)
    assert reply.choices[0].message.content == DEFAULT_REPLY
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert len(stack.fake.requests) == 1
    assert_forwarded_as_provider(stack.fake.last)
    assert stack.fake.last.path == "/v1/chat/completions"
    assert stack.fake.last.json["messages"] == CHAT


async def test_unknown_fields_pass_through_untouched(sdk: SDK, stack: Stack) -> None:
    extra = {"top_k": 40, "vendor_options": {"safe_mode": [True, None, 1.5]}, "seed": 7}
    reply, body = await sdk.raw(
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=CHAT, temperature=0.25, extra_body=extra
        )
    )
    assert_valid(body, CHAT_COMPLETION)
    assert reply.choices[0].message.content == DEFAULT_REPLY
    sent = {"model": UPSTREAM_MODEL, "messages": CHAT, "temperature": 0.25, **extra}
    assert stack.fake.last.json == sent


async def test_stream_with_usage(sdk: SDK, stack: Stack) -> None:
    params = {
        "model": "gpt-4o-mini",
        "messages": CHAT,
        "stream_options": {"include_usage": True},
    }
    chunks = await sdk.stream(**params)
    *content, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert all(chunk.usage is None and chunk.choices for chunk in content)
    assert "".join(c.choices[0].delta.content or "" for c in content) == DEFAULT_REPLY
    assert content[-1].choices[0].finish_reason == "stop"
    assert_forwarded_as_provider(stack.fake.last)

    raw = await raw_stream(stack.gateway, {**params, "stream": True})
    assert_valid_stream(raw)
    assert raw[-1]["choices"] == []
    assert raw[-1]["usage"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS
    assert all(chunk.get("usage", None) is None for chunk in raw[:-1])


async def test_stream_without_usage_has_no_usage_anywhere(sdk: SDK, stack: Stack) -> None:
    params = {"model": "gpt-4o-mini", "messages": CHAT}
    chunks = await sdk.stream(**params)
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == DEFAULT_REPLY
    assert chunks[-1].choices[0].finish_reason == "stop"

    raw = await raw_stream(stack.gateway, {**params, "stream": True})
    assert_valid_stream(raw)
    assert all("usage" not in chunk for chunk in raw), raw
    assert all(chunk["choices"] for chunk in raw)


async def test_tool_call_round_trip(sdk: SDK, stack: Stack) -> None:
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first, body = await sdk.raw(
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
    )
    assert_valid(body, CHAT_COMPLETION)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    assert stack.fake.last.json["tools"] == [WEATHER_TOOL]

    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "22C and sunny"},
    ]
    second, body = await sdk.raw(
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
    )
    assert_valid(body, CHAT_COMPLETION)
    assert second.choices[0].message.content == "The tool returned: 22C and sunny"
    assert second.choices[0].finish_reason == "stop"
    assert stack.fake.last.json["messages"][-1] == messages[-1]
    assert stack.fake.last.json["messages"][-2]["tool_calls"][0]["id"] == call.id


async def test_streamed_tool_call_assembles(sdk: SDK, stack: Stack) -> None:
    params = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Weather?"}],
        "tools": [WEATHER_TOOL],
    }
    chunks = await sdk.stream(**params)
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas) == TOOL_ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert_valid_stream(await raw_stream(stack.gateway, {**params, "stream": True}))


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {
            "type": "json_schema",
            "json_schema": {
                "name": "greeting",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"reply": {"type": "string"}},
                    "required": ["reply"],
                    "additionalProperties": False,
                },
            },
        },
    ],
    ids=["json_object", "json_schema"],
)
async def test_json_modes(sdk: SDK, stack: Stack, response_format: dict[str, Any]) -> None:
    reply, body = await sdk.raw(
        lambda c: c.chat.completions.create(
            model="gpt-4o-mini", messages=CHAT, response_format=response_format
        )
    )
    assert_valid(body, CHAT_COMPLETION)
    assert json.loads(reply.choices[0].message.content) == {"reply": DEFAULT_REPLY}
    assert stack.fake.last.json["response_format"] == response_format


# --- embeddings and models ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "sent_format", "dimensions"),
    [
        ({"encoding_format": "float"}, "float", 8),
        ({"encoding_format": "base64"}, "base64", 8),
        ({}, "base64", 8),  # the SDK asks for base64 by default and decodes it
        ({"encoding_format": "float", "dimensions": 4}, "float", 4),
        ({"encoding_format": "base64", "dimensions": 3}, "base64", 3),
    ],
    ids=["float", "base64", "sdk-default", "float-dimensions", "base64-dimensions"],
)
async def test_embeddings(
    sdk: SDK, stack: Stack, options: dict[str, Any], sent_format: str, dimensions: int
) -> None:
    inputs = ["first text", "second text"]
    reply, body = await sdk.raw(
        lambda c: c.embeddings.create(model="text-embedding-3-small", input=inputs, **options)
    )
    assert_valid(body, EMBEDDING_LIST)
    assert [item["index"] for item in body["data"]] == [0, 1]
    for item, text in zip(reply.data, inputs, strict=True):
        vector = item.embedding
        if options.get("encoding_format") == "base64":
            assert isinstance(vector, str)
            vector = list(struct.unpack(f"<{dimensions}f", base64.b64decode(vector)))
        assert vector == vector_for(text, dimensions)
    recorded = stack.fake.last
    assert recorded.path == "/v1/embeddings"
    assert recorded.json["encoding_format"] == sent_format
    assert recorded.json.get("dimensions") == options.get("dimensions")
    assert recorded.json["input"] == inputs
    assert_forwarded_as_provider(recorded, EMBEDDING_UPSTREAM_MODEL)


async def test_models_list_and_retrieve(sdk: SDK, stack: Stack) -> None:
    page, body = await sdk.raw(lambda c: c.models.list())
    assert_valid(body, MODEL_LIST)
    assert {model.id for model in page.data} == ROUTED_MODELS
    model, body = await sdk.raw(lambda c: c.models.retrieve("gpt-4o-mini"))
    assert_valid(body, MODEL)
    assert model.id == "gpt-4o-mini"
    assert stack.fake.requests == []  # served from the routing file, not the provider


# --- a sloppy OpenAI-compatible vendor ------------------------------------------------


@pytest.fixture
def sloppy(stack: Stack) -> Stack:
    """The fake as a careless compatible server: no logprobs, refusal, fingerprints or
    usage details, no `finish_reason: null` mid-stream, `finish_reason: "eos"`, usage on the
    finishing chunk, embeddings without `object` or usage."""
    stack.fake.omit_fields = True
    stack.fake.finish_reason = "eos"
    stack.fake.usage_on_finish_chunk = True
    return stack


async def test_sloppy_vendor_chat_is_schema_valid(sdk: SDK, sloppy: Stack) -> None:
    reply, body = await sdk.raw(
        lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT)
    )
    assert_valid(body, CHAT_COMPLETION)
    assert body["choices"][0]["finish_reason"] == "stop"
    assert reply.choices[0].message.content == DEFAULT_REPLY


async def test_sloppy_vendor_streams_are_schema_valid(sdk: SDK, sloppy: Stack) -> None:
    params = {"model": "gpt-4o-mini", "messages": CHAT, "stream": True}
    with_usage = await raw_stream(
        sloppy.gateway, {**params, "stream_options": {"include_usage": True}}
    )
    assert_valid_stream(with_usage)
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"]["completion_tokens"] == COMPLETION_TOKENS
    assert with_usage[-2]["choices"][0]["finish_reason"] == "stop"
    assert sloppy.fake.last.json["stream_options"] == {"include_usage": True}

    without_usage = await raw_stream(sloppy.gateway, params)
    assert_valid_stream(without_usage)
    assert all("usage" not in chunk for chunk in without_usage)
    assert without_usage[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in without_usage)
    assert text == DEFAULT_REPLY

    chunks = await sdk.stream(model="gpt-4o-mini", messages=CHAT)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_sloppy_vendor_embeddings_are_schema_valid(sdk: SDK, sloppy: Stack) -> None:
    reply, body = await sdk.raw(
        lambda c: c.embeddings.create(
            model="text-embedding-3-small", input="hello", encoding_format="float"
        )
    )
    assert_valid(body, EMBEDDING_LIST)
    assert reply.data[0].embedding == vector_for("hello", 8)


# --- errors -----------------------------------------------------------------------------


async def test_malformed_json_is_400(stack: Stack) -> None:
    status, headers, body = await post(stack.gateway + "/chat/completions", data=b'{"model": ')
    assert status == 400
    error = assert_safe_error(status, headers, body, port_of(stack.upstream))
    assert error["type"] == "invalid_request_error"
    assert stack.fake.requests == []


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (
            lambda c: c.post("/chat/completions", body={"model": "gpt-4o-mini"}, cast_to=object),
            "messages",
        ),
        (
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages="Hello"),
            "messages",
        ),
        (
            lambda c: c.chat.completions.create(
                model="gpt-4o-mini", messages=CHAT, temperature="warm"
            ),
            "temperature",
        ),
        (
            lambda c: c.chat.completions.create(
                model="gpt-4o-mini", messages=CHAT, stream="yes please"
            ),
            "stream",
        ),
        (
            lambda c: c.post(
                "/embeddings", body={"model": "text-embedding-3-small"}, cast_to=object
            ),
            "input",
        ),
        (
            lambda c: c.embeddings.create(
                model="text-embedding-3-small", input="x", dimensions="eight"
            ),
            "dimensions",
        ),
    ],
    ids=[
        "missing-messages",
        "messages-type",
        "temperature-type",
        "stream-type",
        "missing-input",
        "dimensions-type",
    ],
)
async def test_bad_fields_are_bad_request_naming_the_param(
    sdk: SDK, stack: Stack, call: Callable[[Any], Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.run(call)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    error = assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert error["param"] == param
    assert stack.fake.requests == []


async def test_wrong_key_is_authentication_error(sdk: SDK, stack: Stack) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        await sdk.run(
            lambda c: c.with_options(api_key="sk-wrong").chat.completions.create(
                model="gpt-4o-mini", messages=CHAT
            )
        )
    assert caught.value.status_code == 401
    assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert stack.fake.requests == []


async def test_unknown_model_is_not_found(sdk: SDK, stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await sdk.run(lambda c: c.chat.completions.create(model="gpt-9", messages=CHAT))
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    assert stack.fake.requests == []


def _leaky_message(upstream: str) -> str:
    """What a provider may say on a 401: it quotes the key and names its own address."""
    return (
        f"Incorrect API key provided: {PROVIDER_KEY}. "
        f"Request to {upstream}/v1/chat/completions from 127.0.0.1:{port_of(upstream)} denied."
    )


@pytest.mark.parametrize(
    ("status", "error", "exception"),
    [
        (
            400,
            openai_error(
                "Invalid 'messages[0].content': string too long.",
                param="messages[0].content",
                code="string_above_max_length",
            ),
            openai.BadRequestError,
        ),
        (401, None, openai.AuthenticationError),  # body: `_leaky_message`
        (429, None, openai.RateLimitError),
    ],
    ids=["400", "401", "429"],
)
async def test_upstream_errors_map_to_sdk_exceptions(
    sdk: SDK,
    stack: Stack,
    status: int,
    error: dict[str, Any] | None,
    exception: type[openai.APIStatusError],
) -> None:
    if status == 401:
        error = openai_error(_leaky_message(stack.upstream), code="invalid_api_key")
    stack.fake.status = status  # standing, so a retry by the gateway fails the same way
    stack.fake.body = error
    with pytest.raises(exception) as caught:
        await sdk.run(lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT))
    assert caught.value.status_code == status
    got = assert_safe_sdk_error(caught.value, port_of(stack.upstream))
    if status == 400:
        assert error is not None
        assert got == error["error"]  # the provider's own words reach the client
    if status == 401:
        assert got["message"].startswith("Incorrect API key provided: ")
        assert "denied" in got["message"]
    assert stack.fake.requests
    for recorded in stack.fake.requests:
        assert_forwarded_as_provider(recorded)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_unreachable_upstream_is_502(
    start_gateway: GatewayFactory, open_sdk: SDKFactory, stream: bool
) -> None:
    port = closed_port()
    gateway = await start_gateway(routing(f"http://127.0.0.1:{port}"))
    sdk = await open_sdk(gateway)
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.run(
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=stream)
        )
    assert caught.value.status_code == 502
    assert_safe_sdk_error(caught.value, port)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_upstream_timeout_is_504(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    open_sdk: SDKFactory,
    stream: bool,
) -> None:
    fake = FakeOpenAI(api_key=PROVIDER_KEY, delay_before_headers=5.0)
    upstream = await start_upstream(fake.app())
    gateway = await start_gateway(
        routing(upstream), upstream={"timeouts": {"request": 0.5, "first_byte": 0.5}}
    )
    sdk = await open_sdk(gateway)
    started = asyncio.get_running_loop().time()
    with pytest.raises(openai.InternalServerError) as caught:
        await sdk.run(
            lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=CHAT, stream=stream)
        )
    assert caught.value.status_code == 504
    assert asyncio.get_running_loop().time() - started < 4.5  # the gateway's limit, not ours
    assert_safe_sdk_error(caught.value, port_of(upstream))
    assert fake.requests
