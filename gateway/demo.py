"""The built-in demo provider: an in-process upstream that speaks OpenAI's wire format.

It lets `make run` and the SDK examples work with no provider keys and no network. It sits
behind the same adapter and relay as a real provider, so what it exercises is the real path.
Answers are deterministic: the same request always gets the same reply.

Models: `demo` (chat and legacy completions: text, streaming, a tool call when tools are
given, JSON when asked) and `demo-embed` (unit-length embeddings of `EMBED_DIMENSIONS`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from gateway.adapters.base import Json, UpstreamRequest
from gateway.routing.schema import RoutingConfig

EMBED_DIMENSIONS = 256
_TOOL_ARGUMENT = "demo"


class DemoTransport:
    async def open(self, request: UpstreamRequest) -> DemoCall:
        body = orjson.loads(request.body)
        path = request.url.rsplit("/", 1)[-1]
        try:
            if path == "embeddings":
                return DemoCall(200, _embeddings(body), stream=False)
            if str(body.get("model", "")).startswith("demo-embed"):
                raise _DemoRejection("demo-embed is an embedding model; use it with /v1/embeddings")
            reply = _Reply(body, chat=request.url.endswith("/chat/completions"))
            if request.stream:
                return DemoCall(200, reply.events(), stream=True)
            return DemoCall(200, [reply.complete()], stream=False)
        except _DemoRejection as rejection:
            error = {
                "message": str(rejection),
                "type": "invalid_request_error",
                "param": rejection.param,
                "code": None,
            }
            return DemoCall(400, [orjson.dumps({"error": error})], stream=False)

    async def close(self) -> None:
        return None


class DemoCall:
    headers: Mapping[str, str] = {"content-type": "application/json"}

    def __init__(self, status: int, parts: list[bytes], *, stream: bool) -> None:
        self.status = status
        self._parts = parts
        if stream:
            self.headers = {"content-type": "text/event-stream"}

    async def read(self) -> bytes:
        return b"".join(self._parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part

    def release(self) -> None:
        return None


class _DemoRejection(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class _Reply:
    """One deterministic answer, renderable whole or as a stream of chunks."""

    def __init__(self, body: Json, *, chat: bool) -> None:
        self.chat = chat
        self.model = str(body.get("model", "demo"))
        self.created = int(time.time())
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.id = ("chatcmpl-" if chat else "cmpl-") + digest[:24]
        self.n = body.get("n") or 1
        self.wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        prompt = _prompt_text(body) if chat else str(body.get("prompt", ""))
        self.prompt_tokens = _count_tokens(prompt)
        self.tool_call = _tool_call(body) if chat else None
        text = _answer(body, prompt) if chat else f"Demo completion of: {prompt[:200]}"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = text.split(" ")
        self.finish_reason = "tool_calls" if self.tool_call else "stop"
        if isinstance(limit, int) and 0 < limit < len(words) and not self.tool_call:
            words, self.finish_reason = words[:limit], "length"
        self.words = words
        self.text = " ".join(words)
        self.completion_tokens = len(words) if not self.tool_call else 8

    def usage(self) -> Json:
        completion = self.completion_tokens * self.n
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def complete(self) -> bytes:
        choices = [self._choice(i) for i in range(self.n)]
        kind = "chat.completion" if self.chat else "text_completion"
        return orjson.dumps(self._envelope(kind, choices, usage=self.usage()))

    def _choice(self, index: int) -> Json:
        if not self.chat:
            return {
                "index": index,
                "text": self.text,
                "logprobs": None,
                "finish_reason": self.finish_reason,
            }
        message: Json = {
            "role": "assistant",
            "content": None if self.tool_call else self.text,
            "refusal": None,
        }
        if self.tool_call:
            message["tool_calls"] = [self.tool_call]
        return {
            "index": index,
            "message": message,
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }

    def events(self) -> list[bytes]:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        chunks: list[Json] = []
        for index in range(self.n):
            for delta, finish in self._deltas():
                choice: Json = {"index": index, "logprobs": None, "finish_reason": finish}
                if self.chat:
                    choice["delta"] = delta
                else:
                    choice["text"] = delta.get("content", "")
                chunks.append(self._envelope(kind, [choice]))
        if self.wants_usage:
            for chunk in chunks:
                chunk["usage"] = None
            chunks.append(self._envelope(kind, [], usage=self.usage()))
        return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]

    def _deltas(self) -> list[tuple[Json, str | None]]:
        first: Json = {"role": "assistant", "content": "", "refusal": None}
        if self.tool_call:
            call = self.tool_call
            head = {
                "index": 0,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            args = {"index": 0, "function": {"arguments": call["function"]["arguments"]}}
            return [
                ({**first, "content": None, "tool_calls": [head]}, None),
                ({"tool_calls": [args]}, None),
                ({}, "tool_calls"),
            ]
        pieces = [w if i == 0 else " " + w for i, w in enumerate(self.words)]
        return (
            [(first, None)] + [({"content": p}, None) for p in pieces] + [({}, self.finish_reason)]
        )

    def _envelope(self, kind: str, choices: list[Json], usage: Json | None = None) -> Json:
        envelope: Json = {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_demo",
            "choices": choices,
        }
        if usage is not None:
            envelope["usage"] = usage
        return envelope


def _answer(body: Json, prompt: str) -> str:
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return f"The tool returned: {_content_text(last.get('content'))}"
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(_instance_of(schema)).decode()
    if kind == "json_object":
        return orjson.dumps({"demo": True, "echo": _last_user_text(messages)[:200]}).decode()
    return f"This is the Model Bridge demo model. You said: {_last_user_text(messages)[:500]}"


def _tool_call(body: Json) -> Json | None:
    tools = body.get("tools") or []
    messages = body.get("messages") or []
    if not tools or body.get("tool_choice") == "none":
        return None
    if messages and messages[-1].get("role") == "tool":
        return None
    function = tools[0].get("function") or {}
    arguments = _instance_of(function.get("parameters") or {"type": "object"})
    digest = hashlib.sha256(orjson.dumps(arguments)).hexdigest()[:24]
    return {
        "id": f"call_{digest}",
        "type": "function",
        "function": {
            "name": function.get("name", "tool"),
            "arguments": orjson.dumps(arguments).decode(),
        },
    }


def _instance_of(schema: Json) -> Any:
    """A small deterministic value satisfying a JSON schema's types, enums and required keys."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _instance_of(sub) for name, sub in props.items()}
    if kind == "array":
        return [_instance_of(schema.get("items") or {"type": "string"})]
    return {"string": _TOOL_ARGUMENT, "integer": 1, "number": 1.0, "boolean": True}.get(kind)


def _prompt_text(body: Json) -> str:
    return " ".join(_content_text(m.get("content")) for m in body.get("messages") or [])


def _last_user_text(messages: list[Json]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def _embeddings(body: Json) -> list[bytes]:
    model = str(body.get("model", ""))
    if not model.startswith("demo-embed"):
        raise _DemoRejection(f"{model} is not an embedding model; use demo-embed", "model")
    inputs = body.get("input")
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    dimensions = body.get("dimensions") or EMBED_DIMENSIONS
    base64_wanted = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(items):
        vector = _vector(str(item), dimensions)
        embedding: Any = (
            base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            if base64_wanted
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(_count_tokens(str(item)) for item in items)
    return [
        orjson.dumps(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
    ]


def _vector(text: str, dimensions: int) -> list[float]:
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [v / 2**31 for v in struct.unpack(f"<{dimensions}i", raw[: dimensions * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def demo_routing() -> RoutingConfig:
    """The routing used when no routing file exists: the demo models only."""
    return RoutingConfig.model_validate(
        {
            "providers": {"demo": {"adapter": "demo"}},
            "models": {
                "demo": {"deployments": [{"provider": "demo", "model": "demo"}]},
                "demo-embed": {
                    "mode": "embedding",
                    "deployments": [{"provider": "demo", "model": "demo-embed"}],
                },
            },
        }
    )
