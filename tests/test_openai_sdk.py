"""The official `openai` SDK, sync and async, against the gateway in front of a fake OpenAI.

What the README promises a client: answers that match OpenAI's published schema field for
field (checked on the raw bytes, which the SDK's lenient models would hide), streams with and
without `include_usage`, tools, JSON modes, embeddings in both encodings, the routing file's
models, and every error raised as the SDK's usual exception class with OpenAI's four keys,
the provider's key and address nowhere in sight. Upstream, the fake records that the provider
key (never the client's) went out, with the upstream model name and every unknown field.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest

from tests.fakes.openai_answers import DEFAULT_REPLY, TOOL_ARGUMENTS
from tests.fakes.openai_embeddings import vector_for
from tests.schemas.openai import CHAT_COMPLETION, EMBEDDING_LIST, MODEL, MODEL_LIST
from tests.schemas.validation import assert_valid, assert_valid_stream
from tests.sdk_stack import (
    CHAT,
    COMPLETION_TOKENS,
    EMBEDDING_UPSTREAM_MODEL,
    PROMPT_TOKENS,
    ROUTED_MODELS,
    SDK,
    UPSTREAM_MODEL,
    WEATHER_TOOL,
    Stack,
    assert_forwarded_as_provider,
    raw_stream,
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
