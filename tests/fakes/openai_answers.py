"""What the fake OpenAI upstream answers: deterministic chat, completion and embedding
bodies and stream events, shaped by a `Behaviour` (embeddings: `openai_embeddings`). The server
around them is `tests/fakes/openai_upstream.py`."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

Json = dict[str, Any]

CREATED = 1_700_000_000
FINGERPRINT = "fp_fake"
DEFAULT_REPLY = "Hello from fake upstream"
TOOL_ARGUMENTS = '{"location": "Paris"}'
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
OWNED_BY = "fake-upstream"


def openai_error(
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> Json:
    """An error body in OpenAI's shape: all four keys always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass
class Behaviour:
    """How the fake answers. `FakeOpenAI`'s own attributes are the standing behaviour;
    `FakeOpenAI.enqueue(**changes)` overrides some of them for one request."""

    status: int = 200
    # The whole response body, sent with `status`: a JSON value, or bytes sent as-is.
    # Left None, an error status gets `default_error(status)`.
    body: Any = None
    # A verbatim SSE stream: dicts become `data: <json>`, str `data: <str>`, bytes are
    # written raw. No `[DONE]` is added.
    events: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay_before_headers: float = 0.0
    delay_between_chunks: float = 0.0
    # Close the connection after this many stream chunks; `[DONE]` never comes.
    drop_mid_stream: int | None = None
    # Mimic sloppy OpenAI-compatible vendors: no logprobs, refusal, system_fingerprint,
    # service_tier or annotations; no finish_reason and no `usage: null` on non-final
    # chunks; no usage details; embeddings without `object` on items and without usage.
    omit_fields: bool = False
    include_usage_when_not_asked: bool = False
    # Put the usage on the chunk with the finish_reason instead of a `choices: []` chunk.
    usage_on_finish_chunk: bool = False
    # Start streams with Azure's `choices: []` chunk carrying `prompt_filter_results`.
    prompt_filter_chunk: bool = False
    # Sent verbatim instead of the natural finish reason (e.g. "eos", to test mapping).
    finish_reason: str | None = None
    reply: str = DEFAULT_REPLY
    # The `model` the fake reports; by default the request's (Azure: the deployment).
    response_model: str | None = None


def sse(event: Any) -> bytes:
    if isinstance(event, bytes):
        return event
    data = event.encode() if isinstance(event, str) else orjson.dumps(event)
    return b"data: " + data + b"\n\n"


def model_object(name: str) -> Json:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": OWNED_BY}


# Request checks.


def missing(body: Json, field_name: str, azure: bool) -> Json | None:
    """The request checks OpenAI makes first, with its messages (Azure takes the model from
    the deployment in the URL)."""
    if not azure and not body.get("model"):
        return openai_error("you must provide a model parameter")
    if field_name not in body:
        message = f"Missing required parameter: '{field_name}'."
        return openai_error(message, param=field_name, code="missing_required_parameter")
    if field_name == "messages" and not isinstance(body["messages"], list):
        message = "Invalid type for 'messages': expected an array."
        return openai_error(message, param="messages", code="invalid_type")
    if field_name == "messages" and body["messages"] == []:
        message = "Invalid 'messages': empty array. Expected an array with minimum length 1."
        return openai_error(message, param="messages", code="empty_array")
    return None


def bad_embedding_options(body: Json) -> Json | None:
    if body.get("encoding_format", "float") not in ("float", "base64"):
        message = "Invalid value for 'encoding_format': expected 'float' or 'base64'."
        return openai_error(message, param="encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        return openai_error("Invalid value for 'dimensions'.", param="dimensions")
    return None


def choice_count(body: Json) -> int:
    n = body.get("n")
    return n if isinstance(n, int) and n > 0 else 1


# What to answer.


@dataclass(frozen=True)
class _Answer:
    """One choice's content, already split the way it will be streamed."""

    pieces: list[str]
    finish_reason: str
    tool_name: str | None = None
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def tokens(self) -> int:
        return len(self.pieces)


def chat_answer(body: Json, behaviour: Behaviour) -> _Answer:
    """A tool result is acknowledged, tools get a call, JSON modes get JSON, else the reply."""
    messages = body["messages"]
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") == "tool":
        answer = text_answer(f"The tool returned: {_text_of(last.get('content'))}")
    elif body.get("tools") and body.get("tool_choice") != "none":
        name = _tool_name(body)
        call_id = "call_fake" + hashlib.sha256(name.encode()).hexdigest()[:16]
        pieces = [TOOL_ARGUMENTS[i : i + 5] for i in range(0, len(TOOL_ARGUMENTS), 5)]
        answer = _Answer(pieces, "tool_calls", name, call_id)
    elif (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        answer = text_answer(orjson.dumps({"reply": behaviour.reply}).decode())
    else:
        answer = text_answer(behaviour.reply)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    return truncate(answer, limit, behaviour)


def text_answer(text: str) -> _Answer:
    return _Answer(re.findall(r"\s*\S+(?:\s+$)?", text) or [text], "stop")


def truncate(answer: _Answer, limit: Any, behaviour: Behaviour) -> _Answer:
    if answer.tool_name is None and isinstance(limit, int) and 0 < limit < answer.tokens:
        answer = _Answer(answer.pieces[:limit], "length")
    if behaviour.finish_reason is not None:
        answer = dataclasses.replace(answer, finish_reason=behaviour.finish_reason)
    return answer


def _tool_name(body: Json) -> str:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name", ""))
    tool = body["tools"][0]
    return str((tool.get(tool.get("type", "function")) or {}).get("name", ""))


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def count_words(value: Any) -> int:
    if isinstance(value, list):  # token ids
        return len(value)
    return len(str(value).split())


def input_items(value: Any) -> list[Any]:
    """A prompt or embedding input: a string, a list of strings, a token list, or a list of
    token lists."""
    if isinstance(value, list) and value and all(isinstance(t, int) for t in value):
        return [value]
    return value if isinstance(value, list) else [value]


def prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(count_words(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))


def usage_of(prompt_tokens: int, completion_tokens: int, behaviour: Behaviour) -> Json:
    usage: Json = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if not behaviour.omit_fields:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


# Chat completions.


def _envelope(reply_id: str, kind: str, model: str, behaviour: Behaviour) -> Json:
    envelope: Json = {"id": reply_id, "object": kind, "created": CREATED, "model": model}
    if not behaviour.omit_fields:
        if kind.startswith("chat."):
            envelope["service_tier"] = "default"
        envelope["system_fingerprint"] = FINGERPRINT
    return envelope


def _tool_call(answer: _Answer) -> Json:
    return {
        "id": answer.tool_call_id,
        "type": "function",
        "function": {"name": answer.tool_name, "arguments": answer.text},
    }


def chat_response(
    reply_id: str, model: str, answer: _Answer, n: int, usage: Json, behaviour: Behaviour
) -> Json:
    message: Json = {"role": "assistant", "content": None if answer.tool_name else answer.text}
    if answer.tool_name:
        message["tool_calls"] = [_tool_call(answer)]
    if not behaviour.omit_fields:
        message["refusal"] = None
        message["annotations"] = []
    choices = []
    for index in range(n):
        choice: Json = {"index": index, "message": dict(message)}
        if not behaviour.omit_fields:
            choice["logprobs"] = None
        choice["finish_reason"] = answer.finish_reason
        choices.append(choice)
    reply = _envelope(reply_id, "chat.completion", model, behaviour)
    return {**reply, "choices": choices, "usage": usage}


def _chat_deltas(answer: _Answer, behaviour: Behaviour) -> list[Json]:
    """The deltas of one choice, as OpenAI sends them: the role first (with the call's id,
    type and name for a tool call), then content or argument pieces."""
    first: Json = {"role": "assistant", "content": None if answer.tool_name else ""}
    if answer.tool_name:
        first["tool_calls"] = [
            {
                "index": 0,
                "id": answer.tool_call_id,
                "type": "function",
                "function": {"name": answer.tool_name, "arguments": ""},
            }
        ]
        rest: list[Json] = [
            {"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in answer.pieces
        ]
    else:
        rest = [{"content": piece} for piece in answer.pieces]
    if not behaviour.omit_fields:
        first["refusal"] = None
    return [first, *rest]


def chat_chunks(
    reply_id: str, model: str, answer: _Answer, n: int, behaviour: Behaviour
) -> list[Json]:
    steps: list[tuple[Any, str | None]] = [
        (delta, None) for delta in _chat_deltas(answer, behaviour)
    ]
    steps.append(({}, answer.finish_reason))
    return _chunks(reply_id, "chat.completion.chunk", model, "delta", steps, n, behaviour)


# Legacy completions.


def completion_response(
    reply_id: str, model: str, answer: _Answer, count: int, usage: Json, behaviour: Behaviour
) -> Json:
    choices = []
    for index in range(count):
        choice: Json = {"text": answer.text, "index": index}
        if not behaviour.omit_fields:
            choice["logprobs"] = None
        choice["finish_reason"] = answer.finish_reason
        choices.append(choice)
    reply = _envelope(reply_id, "text_completion", model, behaviour)
    return {**reply, "choices": choices, "usage": usage}


def completion_chunks(
    reply_id: str, model: str, answer: _Answer, count: int, behaviour: Behaviour
) -> list[Json]:
    steps: list[tuple[Any, str | None]] = [(piece, None) for piece in answer.pieces]
    steps.append(("", answer.finish_reason))
    return _chunks(reply_id, "text_completion", model, "text", steps, count, behaviour)


def _chunks(
    reply_id: str,
    kind: str,
    model: str,
    content_field: str,
    steps: list[tuple[Any, str | None]],
    count: int,
    behaviour: Behaviour,
) -> list[Json]:
    """One chunk per step and choice: its content under `content_field`, and the finish
    reason (null until the last step, unless the behaviour omits what it may)."""
    chunks = []
    for content, finish_reason in steps:
        for index in range(count):
            choice: Json = {"index": index, content_field: content}
            if not behaviour.omit_fields:
                choice["logprobs"] = None
            if finish_reason is not None or not behaviour.omit_fields:
                choice["finish_reason"] = finish_reason
            chunk = _envelope(reply_id, kind, model, behaviour)
            chunks.append({**chunk, "choices": [choice]})
    return chunks


def stream_events(
    chunks: list[Json], usage: Json, body: Json, behaviour: Behaviour, kind: str
) -> list[Any]:
    """The chunks as sent: after Azure's filter chunk if asked, and with what
    `stream_options.include_usage` adds: `usage: null` on every chunk, then one chunk with
    `choices: []` and the usage (or, for sloppy vendors, usage on the finishing chunk)."""
    options = body.get("stream_options") or {}
    wanted = bool(options.get("include_usage")) or behaviour.include_usage_when_not_asked
    events: list[Any] = []
    if behaviour.prompt_filter_chunk:
        events.append(_prompt_filter_chunk())
    if not wanted:
        return events + chunks
    if not behaviour.omit_fields:
        chunks = [{**chunk, "usage": None} for chunk in chunks]
    if behaviour.usage_on_finish_chunk:
        return [*events, *chunks[:-1], {**chunks[-1], "usage": usage}]
    envelope = {key: value for key, value in chunks[-1].items() if key not in ("choices", "usage")}
    return [*events, *chunks, {**envelope, "object": kind, "choices": [], "usage": usage}]


def _prompt_filter_chunk() -> Json:
    safe = {"filtered": False, "severity": "safe"}
    results = {name: safe for name in ("hate", "self_harm", "sexual", "violence")}
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": results}],
    }
