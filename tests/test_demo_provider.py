"""The quick start's promise: the official SDK works against the built-in demo provider."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator

import openai
import pytest

from gateway.demo import EMBED_DIMENSIONS, demo_routing
from tests.conftest import MASTER_KEY, GatewayFactory


@pytest.fixture
async def client(start_gateway: GatewayFactory) -> AsyncIterator[openai.AsyncOpenAI]:
    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    async with openai.AsyncOpenAI(base_url=base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        yield sdk


async def test_chat_is_deterministic(client: openai.AsyncOpenAI) -> None:
    messages = [{"role": "user", "content": "ping"}]
    first = await client.chat.completions.create(model="demo", messages=messages)
    second = await client.chat.completions.create(model="demo", messages=messages)
    assert first.choices[0].message.content == "This is the Model Bridge demo model. You said: ping"
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.total_tokens > 0


async def test_stream_matches_whole_answer(client: openai.AsyncOpenAI) -> None:
    messages = [{"role": "user", "content": "stream me"}]
    whole = await client.chat.completions.create(model="demo", messages=messages)
    stream = await client.chat.completions.create(
        model="demo", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_max_tokens_truncates_with_length(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "x"}], max_tokens=3
    )
    assert reply.choices[0].message.content == "This is the"
    assert reply.choices[0].finish_reason == "length"


async def test_tool_call_round_trip(client: openai.AsyncOpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    messages: list = [{"role": "user", "content": "weather in Paris?"}]
    first = await client.chat.completions.create(model="demo", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "demo"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = await client.chat.completions.create(model="demo", messages=messages, tools=tools)
    assert second.choices[0].message.content == "The tool returned: sunny"


async def test_json_schema_mode_returns_conforming_json(client: openai.AsyncOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    reply = await client.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    assert json.loads(reply.choices[0].message.content or "") == {"name": "demo", "age": 1}


async def test_embeddings_float_and_base64_agree(client: openai.AsyncOpenAI) -> None:
    floats = await client.embeddings.create(
        model="demo-embed", input=["a", "b"], encoding_format="float"
    )
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == EMBED_DIMENSIONS
    raw = await client.with_raw_response.embeddings.create(
        model="demo-embed", input="a", encoding_format="base64", dimensions=8
    )
    encoded = json.loads(raw.content)["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert len(decoded) == 8


async def test_models_are_labelled_demo(client: openai.AsyncOpenAI) -> None:
    models = [m async for m in client.models.list()]
    assert {m.id for m in models} == {"demo", "demo-embed"}
    assert all(m.owned_by == "model-bridge-demo" for m in models)


async def test_chat_with_embedding_model_is_a_clear_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        await client.chat.completions.create(
            model="demo-embed", messages=[{"role": "user", "content": "x"}]
        )


async def test_sync_client_works_too(start_gateway: GatewayFactory) -> None:
    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    with openai.OpenAI(base_url=base_url, api_key=MASTER_KEY, max_retries=0) as client:
        reply = await asyncio.to_thread(
            client.chat.completions.create,
            model="demo",
            messages=[{"role": "user", "content": "sync"}],
        )
    assert reply.choices[0].message.content.endswith("You said: sync")
