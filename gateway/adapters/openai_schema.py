"""OpenAI's published schema for what a provider answers: the types a spec-exact answer or
stream chunk decodes into (checked in C by msgspec, so one that needs no change can be relayed
as the provider sent it), and the normalisers that make any other one spec-exact.

The normalisers fill what the spec requires (`logprobs: null`, `refusal: null`,
`finish_reason: null` mid-stream, ids and timestamps) and map vendors' finish reasons to the
spec's enum. The types ask exactly what the normalisers would otherwise add or change.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec

from gateway.adapters.base import Json, Operation

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "function_call": "function_call",
    # Spellings seen from OpenAI-compatible servers.
    "eos": "stop",
    "eos_token": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_length": "length",
    "tool_use": "tool_calls",
    "tool_call": "tool_calls",
}
_SpecReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
_Kind = TypeVar("_Kind")  # an answer's `object`
_Choice = TypeVar("_Choice")


def map_finish_reason(reason: object) -> str:
    """Total: anything unknown is a normal stop rather than a crash or an off-spec value."""
    return _FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"


# `gc=False` on every type: a decoded answer is a tree, never part of a reference cycle, so
# the garbage collector need not track (and count towards its next pass) the few structs
# each chunk of each stream allocates.


class _Message(msgspec.Struct, gc=False):
    role: str
    content: Any
    refusal: Any


class _ChatAnswerChoice(msgspec.Struct, gc=False):
    index: int
    message: _Message
    logprobs: Any
    finish_reason: _SpecReason


class _CompletionAnswerChoice(msgspec.Struct, gc=False):
    index: int
    text: Any
    logprobs: Any
    finish_reason: _SpecReason


class _Answer(msgspec.Struct, Generic[_Kind, _Choice], gc=False):
    """A response with everything the spec asks of one relayed as sent; other fields are not
    read. The normalisers below would leave such a response as it is."""

    id: Annotated[str, msgspec.Meta(min_length=1)]
    object: _Kind
    created: int
    model: str
    choices: list[_Choice]
    usage: dict[str, Any] | None = None


# Embeddings are left out: their usage is rebuilt to the spec's two fields.
EXACT_ANSWERS: dict[Operation, msgspec.json.Decoder[Any]] = {
    "chat": msgspec.json.Decoder(_Answer[Literal["chat.completion"], _ChatAnswerChoice]),
    "completions": msgspec.json.Decoder(
        _Answer[Literal["text_completion"], _CompletionAnswerChoice]
    ),
}


class _Delta(msgspec.Struct, gc=False):
    content: str | None = None


class _ChatChoice(msgspec.Struct, gc=False):
    delta: _Delta
    logprobs: Any
    finish_reason: _SpecReason | None


class _CompletionChoice(msgspec.Struct, gc=False):
    text: str
    logprobs: Any
    finish_reason: _SpecReason | None


class _Chunk(msgspec.Struct, Generic[_Choice], gc=False):
    """A chunk with everything the spec asks of a relayed chunk; other fields are not read."""

    object: str
    choices: list[_Choice]
    usage: Any = msgspec.UNSET
    error: Any = msgspec.UNSET


# Checking a chunk against these types happens in C, while decoding: a third of parsing it
# into dicts and checking those in Python, on the path every chunk of every stream takes.
# One chunk, and all the chunks of one read as a JSON array.
CHAT_CHUNK = msgspec.json.Decoder(_Chunk[_ChatChoice])
CHAT_CHUNKS = msgspec.json.Decoder(list[_Chunk[_ChatChoice]])
COMPLETION_CHUNK = msgspec.json.Decoder(_Chunk[_CompletionChoice])
COMPLETION_CHUNKS = msgspec.json.Decoder(list[_Chunk[_CompletionChoice]])


def chunk_object(chat: bool) -> str:
    return "chat.completion.chunk" if chat else "text_completion"


def normalize_chunk(chunk: Json, chat: bool) -> None:
    chunk.setdefault("object", chunk_object(chat))
    for choice in chunk["choices"]:
        if chat:
            choice.setdefault("delta", {})
        else:
            choice.setdefault("text", "")
        reason = choice.get("finish_reason")
        choice["finish_reason"] = map_finish_reason(reason) if reason else None
        choice.setdefault("logprobs", None)


def normalize_chat(data: Json) -> Json:
    _fill_identity(data, "chat.completion", "chatcmpl-")
    for index, choice in enumerate(data["choices"]):
        choice.setdefault("index", index)
        message = choice.setdefault("message", {})
        message.setdefault("role", "assistant")
        message.setdefault("content", None)
        message.setdefault("refusal", None)
        choice["finish_reason"] = map_finish_reason(choice.get("finish_reason"))
        choice.setdefault("logprobs", None)
    return data


def normalize_completion(data: Json) -> Json:
    _fill_identity(data, "text_completion", "cmpl-")
    for index, choice in enumerate(data["choices"]):
        choice.setdefault("index", index)
        choice.setdefault("text", "")
        choice["finish_reason"] = map_finish_reason(choice.get("finish_reason"))
        choice.setdefault("logprobs", None)
    return data


def normalize_embeddings(data: Json, model: str) -> Json:
    data["object"] = "list"
    data.setdefault("model", model)
    for index, item in enumerate(data["data"]):
        item.setdefault("object", "embedding")
        item.setdefault("index", index)
    usage = data.get("usage") or {}
    data["usage"] = {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "total_tokens": usage.get("total_tokens", usage.get("prompt_tokens", 0)),
    }
    return data


def _fill_identity(data: Json, kind: str, id_prefix: str) -> None:
    """Some compatible servers omit id/created; the SDKs need them."""
    data["object"] = kind
    if not data.get("id"):
        data["id"] = id_prefix + secrets.token_hex(12)
    if not isinstance(data.get("created"), int):
        data["created"] = int(time.time())
    data.setdefault("model", "")
