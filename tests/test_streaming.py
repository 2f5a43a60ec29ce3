"""Streams through the real app: relayed as they arrive (never buffered), many at once
without cross-talk, a provider failing mid-stream becomes an SSE error event (never a hang),
and Azure's per-deployment URLs, `api-key` header and `api-version` query."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.conftest import MASTER_KEY, GatewayFactory, routing_for
from tests.fakes.openai_answers import DEFAULT_REPLY
from tests.fakes.openai_embeddings import vector_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.schemas.openai import (
    CHAT_COMPLETION,
    CHAT_COMPLETION_CHUNK,
    EMBEDDING_LIST,
    ERROR_RESPONSE,
)
from tests.schemas.validation import assert_valid, assert_valid_stream

PROVIDER_KEY = "sk-provider-secret"  # what routing_for configures for provider `up`
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
CHAT = [{"role": "user", "content": "Tell me something"}]

StartUpstream = Callable[[web.Application], Awaitable[str]]


async def open_stream(
    session: aiohttp.ClientSession, base_url: str, body: Mapping[str, Any]
) -> aiohttp.ClientResponse:
    response = await session.post(
        base_url + "/chat/completions", json={**body, "stream": True}, headers=AUTH
    )
    if response.status != 200 or response.content_type != "text/event-stream":
        text = await response.text()
        response.release()
        raise AssertionError(f"not a stream: {response.status} {text}")
    return response


async def read_events(response: aiohttp.ClientResponse) -> list[tuple[float, str]]:
    """Each SSE event's `data` with the monotonic time its last byte arrived."""
    events = []
    async for line in response.content:
        if line.startswith(b"data: "):
            events.append((time.monotonic(), line.removeprefix(b"data: ").decode().rstrip("\n")))
        else:
            assert line == b"\n", line
    return events


# --- not buffered ---------------------------------------------------------------------


async def test_chunks_are_relayed_as_they_arrive(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    # Role, four words, finish and usage: seven chunks 0.3 s apart, 1.8 s in all. The silence
    # limit bounds each gap, never the whole stream, which runs for more than three of them.
    fake = FakeOpenAI(api_key=PROVIDER_KEY, delay_between_chunks=0.3)
    gateway = await start_gateway(
        routing_for(await start_upstream(fake.app()) + "/v1"),
        upstream={"timeouts": {"between_chunks": 0.5}},
    )
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        response = await open_stream(session, gateway, {"model": "gpt-4o-mini", "messages": CHAT})
        async with response:
            events = await read_events(response)
    finished = time.monotonic()
    first_chunk = events[0][0] - started
    assert first_chunk < 1.0, f"first chunk after {first_chunk:.2f} s: the stream was buffered"
    assert finished - started > 1.5
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert_valid_stream(chunks)
    # Every word left the gateway on its own, about when the provider sent it.
    words = [
        at
        for (at, _), c in zip(events, chunks, strict=False)
        if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    assert len(words) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(words)]
    assert min(gaps) > 0.1, f"chunks left in batches: {gaps}"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == DEFAULT_REPLY


# --- many at once ---------------------------------------------------------------------


async def test_200_concurrent_streams_each_get_their_own_answer(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    # Seven chunks 50 ms apart: 0.3 s a stream, a minute if they ran one after another.
    fake = FakeOpenAI(api_key=PROVIDER_KEY, delay_between_chunks=0.05)
    gateway = await start_gateway(routing_for(await start_upstream(fake.app()) + "/v1"))
    spans: list[tuple[float, float]] = []

    async def one(client: openai.AsyncOpenAI, i: int) -> str:
        # The fake echoes a tool result, so every stream has its own expected text.
        messages = [*CHAT, {"role": "tool", "tool_call_id": f"call_{i}", "content": f"n{i}"}]
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks: list[Any] = []
        async with stream:
            async for chunk in stream:
                if not chunks:
                    first = time.monotonic()
                chunks.append(chunk)
        spans.append((first, time.monotonic()))
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-2].choices[0].finish_reason == "stop"
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    started = time.monotonic()
    async with openai.AsyncOpenAI(
        base_url=gateway, api_key=MASTER_KEY, max_retries=0, timeout=30
    ) as client:
        texts = await asyncio.gather(*(one(client, i) for i in range(200)))
    elapsed = time.monotonic() - started
    assert texts == [f"The tool returned: n{i}" for i in range(200)]
    assert len(fake.requests) == 200
    assert elapsed < 20, f"200 streams took {elapsed:.1f} s"
    assert most_at_once(spans) >= 50, "the streams did not run concurrently"


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of streams that were between first chunk and end at one time."""
    marks = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in marks:
        running += step
        peak = max(peak, running)
    return peak


# --- failures after the first byte ----------------------------------------------------


def _chunk(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-early",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-upstream",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": None}
        ],
    }


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ({"drop_mid_stream": 2}, "upstream_protocol_error"),
        ({"events": [_chunk("Hel"), _chunk("lo")]}, "upstream_protocol_error"),
        ({"delay_between_chunks": 5.0}, "upstream_timeout"),
    ],
    ids=["connection-dropped", "ended-without-finish", "went-silent"],
)
async def test_failure_mid_stream_is_an_sse_error_event(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    failure: dict[str, Any],
    code: str,
) -> None:
    fake = FakeOpenAI(api_key=PROVIDER_KEY)
    upstream = await start_upstream(fake.app())
    gateway = await start_gateway(
        routing_for(upstream + "/v1"), upstream={"timeouts": {"between_chunks": 0.5}}
    )
    body = {"model": "gpt-4o-mini", "messages": CHAT}

    fake.enqueue(**failure)
    async with asyncio.timeout(10), aiohttp.ClientSession() as session:
        response = await open_stream(session, gateway, body)
        async with response:
            events = [data for _, data in await read_events(response)]
    *chunks, last = [json.loads(data) for data in events]  # no [DONE]
    assert chunks and chunks[0]["choices"][0]["delta"]["content"] in ("", "Hel")
    for chunk in chunks:
        assert_valid(chunk, CHAT_COMPLETION_CHUNK)
    assert_valid(last, ERROR_RESPONSE)
    assert set(last["error"]) == {"message", "type", "param", "code"}
    assert last["error"]["code"] == code
    exposed = json.dumps(last)
    assert PROVIDER_KEY not in exposed and upstream.removeprefix("http://") not in exposed

    # The SDK raises it as an APIError after the chunks that did arrive.
    fake.enqueue(**failure)
    received: list[Any] = []
    async with (
        asyncio.timeout(10),
        openai.AsyncOpenAI(base_url=gateway, api_key=MASTER_KEY, max_retries=0) as client,
    ):
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=CHAT, stream=True
        )
        async with stream:
            with pytest.raises(openai.APIError) as caught:
                async for chunk in stream:
                    received.append(chunk)
    assert type(caught.value) is openai.APIError  # not a status error: the 200 had begun
    assert caught.value.code == code
    assert received
    # One upstream call per client request: nothing is retried once bytes reached the client.
    assert len(fake.requests) == 2 and fake.pending == 0


# --- Azure ------------------------------------------------------------------------------

AZURE_KEY = "azure-provider-secret-0123456789"
API_VERSION = "2024-10-21"


def azure_routing(api_base: str) -> dict[str, Any]:
    return {
        "providers": {
            "az": {
                "adapter": "azure",
                "api_base": api_base,
                "api_key": AZURE_KEY,
                "api_version": API_VERSION,
            }
        },
        "models": {
            "gpt-4o": {"deployments": [{"provider": "az", "model": "my-gpt4o-deployment"}]},
            "embed": {
                "mode": "embedding",
                "deployments": [{"provider": "az", "model": "my-embedding-deployment"}],
            },
        },
    }


async def test_azure_chat_stream_and_embeddings(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    # Azure streams open with a `choices: []` chunk of prompt filter results.
    fake = FakeOpenAI(azure=True, api_key=AZURE_KEY, prompt_filter_chunk=True)
    gateway = await start_gateway(azure_routing(await start_upstream(fake.app())))
    async with openai.AsyncOpenAI(base_url=gateway, api_key=MASTER_KEY, max_retries=0) as client:
        reply = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=CHAT
        )
        assert_valid(json.loads(reply.content), CHAT_COMPLETION)
        assert reply.parse().choices[0].message.content == DEFAULT_REPLY

        embeddings = await client.embeddings.with_raw_response.create(
            model="embed", input=["a", "b"], encoding_format="float"
        )
        assert_valid(json.loads(embeddings.content), EMBEDDING_LIST)
        assert embeddings.parse().data[1].embedding == vector_for("b", 8)

    async with aiohttp.ClientSession() as session:
        body = {"model": "gpt-4o", "messages": CHAT, "stream_options": {"include_usage": True}}
        response = await open_stream(session, gateway, body)
        async with response:
            events = [data for _, data in await read_events(response)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert_valid_stream(chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == (
        DEFAULT_REPLY
    )

    paths = [recorded.path for recorded in fake.requests]
    assert paths == [
        "/openai/deployments/my-gpt4o-deployment/chat/completions",
        "/openai/deployments/my-embedding-deployment/embeddings",
        "/openai/deployments/my-gpt4o-deployment/chat/completions",
    ]
    for recorded in fake.requests:
        assert recorded.query == {"api-version": API_VERSION}
        assert recorded.headers.getall("api-key") == [AZURE_KEY]
        assert "Authorization" not in recorded.headers
        assert MASTER_KEY.encode() not in recorded.body
