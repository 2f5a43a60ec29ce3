"""Whole responses and streams are two shapes of one answer.

`StreamAssembler` folds a stream's chunks into the response a non-streaming call would have
returned, so it can be cached; `stream_chunks` unfolds a cached response into chunks with
OpenAI's framing, so a hit can be replayed to a streaming client.
"""

from __future__ import annotations

from typing import Any

from gateway.adapters.base import Json


class StreamAssembler:
    def __init__(self) -> None:
        self._head: Json | None = None
        self._choices: dict[int, Json] = {}
        self.usage: Json | None = None

    def add(self, chunk: Json) -> None:
        if self._head is None:
            self._head = chunk
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            slot = self._choices.setdefault(
                choice.get("index", 0),
                {
                    "message": {"role": "assistant", "content": None, "refusal": None},
                    "text": None,
                    "finish_reason": None,
                },
            )
            if "delta" in choice:
                _merge_delta(slot["message"], choice["delta"])
            elif "text" in choice:
                slot["text"] = (slot["text"] or "") + (choice["text"] or "")
            if choice.get("finish_reason"):
                slot["finish_reason"] = choice["finish_reason"]

    def result(self) -> Json | None:
        if self._head is None:
            return None
        chat = self._head.get("object") == "chat.completion.chunk"
        choices = []
        for index in sorted(self._choices):
            slot = self._choices[index]
            choice: Json = {
                "index": index,
                "logprobs": None,
                "finish_reason": slot["finish_reason"] or "stop",
            }
            if chat:
                choice["message"] = slot["message"]
            else:
                choice["text"] = slot["text"] or ""
            choices.append(choice)
        result: Json = {
            "id": self._head.get("id"),
            "object": "chat.completion" if chat else "text_completion",
            "created": self._head.get("created"),
            "model": self._head.get("model"),
            "system_fingerprint": self._head.get("system_fingerprint"),
            "choices": choices,
        }
        if self.usage is not None:
            result["usage"] = self.usage
        return result


def _merge_delta(message: Json, delta: Json) -> None:
    for field in ("content", "refusal"):
        if delta.get(field):
            message[field] = (message.get(field) or "") + delta[field]
    for call in delta.get("tool_calls") or ():
        calls = message.setdefault("tool_calls", [])
        index = call.get("index", 0)
        while len(calls) <= index:
            calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        target = calls[index]
        if call.get("id"):
            target["id"] = call["id"]
        function = call.get("function") or {}
        target["function"]["name"] += function.get("name") or ""
        target["function"]["arguments"] += function.get("arguments") or ""


def stream_chunks(response: Json, include_usage: bool) -> list[Json]:
    """The chunks a stream of `response` would have carried: role, content, finish, usage."""
    chat = response.get("object") == "chat.completion"
    head = {
        "id": response.get("id"),
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": response.get("created"),
        "model": response.get("model"),
        "system_fingerprint": response.get("system_fingerprint"),
    }
    chunks = []
    for choice in response.get("choices") or ():
        index = choice.get("index", 0)
        for delta, finish in _deltas(choice, chat):
            body: dict[str, Any] = {"index": index, "logprobs": None, "finish_reason": finish}
            if chat:
                body["delta"] = delta
            else:
                body["text"] = delta.get("content", "")
            chunks.append({**head, "choices": [body]})
    if include_usage:
        for chunk in chunks:
            chunk["usage"] = None
        chunks.append({**head, "choices": [], "usage": response.get("usage")})
    return chunks


def _deltas(choice: Json, chat: bool) -> list[tuple[Json, str | None]]:
    finish = choice.get("finish_reason") or "stop"
    if not chat:
        return [({"content": choice.get("text") or ""}, None), ({}, finish)]
    message = choice.get("message") or {}
    first: Json = {
        "role": "assistant",
        "content": "" if message.get("content") is not None else None,
        "refusal": None,
    }
    deltas: list[tuple[Json, str | None]] = [(first, None)]
    if message.get("content"):
        deltas.append(({"content": message["content"]}, None))
    if message.get("tool_calls"):
        calls = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        deltas.append(({"tool_calls": calls}, None))
    deltas.append(({}, finish))
    return deltas
