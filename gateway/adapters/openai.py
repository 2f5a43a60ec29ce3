"""OpenAI's wire format, and every vendor that speaks it (Groq, Mistral, Ollama, vLLM, …).

Requests pass through untouched except for the upstream model name and, on streams, a
request for usage so every stream can be metered. Responses leave spec-exact whatever the
vendor sent (`openai_schema` says what that takes), and a usage report is always its own
chunk with `choices: []`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

from gateway.adapters.base import Answer, Json, Operation, Target, UpstreamRequest
from gateway.adapters.openai_schema import (
    CHAT_CHUNK,
    CHAT_CHUNKS,
    COMPLETION_CHUNK,
    COMPLETION_CHUNKS,
    EXACT_ANSWERS,
    chunk_object,
    normalize_chat,
    normalize_chunk,
    normalize_completion,
    normalize_embeddings,
)
from gateway.adapters.status_table import classify
from gateway.errors import UpstreamError, UpstreamProtocolError
from gateway.sse import CR, LF

PATHS: dict[Operation, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
}
_USAGE_NULL_TAIL = b',"usage":null}'
_DONE = b"[DONE]"


class OpenAIAdapter:
    name = "openai"
    operations: frozenset[Operation] = frozenset(PATHS)
    needs_api_base = True

    def to_upstream_request(
        self, operation: Operation, payload: Json, target: Target
    ) -> UpstreamRequest:
        body = dict(payload)
        body["model"] = target.model
        stream = operation != "embeddings" and bool(body.get("stream"))
        if stream:
            # Always ask for usage so the stream can be metered; the translator removes it
            # again when the client did not ask.
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        # Positional: keywords to a class are gathered into a dict on every call.
        return UpstreamRequest(
            "POST", self.url(operation, target), self.headers(target), orjson.dumps(body), stream
        )

    def url(self, operation: Operation, target: Target) -> str:
        return target.api_base + PATHS[operation]

    def headers(self, target: Target) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **target.headers}
        if target.api_key:
            headers.update(self.credentials(target.api_key))
        return headers

    def credentials(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def from_upstream_response(self, operation: Operation, body: bytes, target: Target) -> Answer:
        exact = EXACT_ANSWERS.get(operation)
        if exact is not None:
            try:
                return Answer(body, exact.decode(body).usage)
            except msgspec.DecodeError:
                pass  # not spec-exact (or not JSON): normalise, or say what is wrong
        data = _parse_object(body, target)
        if operation == "embeddings":
            if not isinstance(data.get("data"), list):
                raise _protocol_error(target, "embeddings response has no data")
            data = normalize_embeddings(data, target.model)
        elif not isinstance(data.get("choices"), list):
            raise _protocol_error(target, "response has no choices")
        elif operation == "chat":
            data = normalize_chat(data)
        else:
            data = normalize_completion(data)
        usage = data.get("usage")
        return Answer(orjson.dumps(data), usage if isinstance(usage, dict) else None)

    def stream_translator(
        self, operation: Operation, payload: Json, target: Target
    ) -> OpenAIStreamTranslator:
        options = payload.get("stream_options") or {}
        return OpenAIStreamTranslator(operation, target, bool(options.get("include_usage")))

    def classify_error(self, status: int, body: bytes, target: Target) -> UpstreamError:
        message, kind, param, code = _error_fields(body)
        return classify(status, target, message, kind, param, code)


class OpenAIStreamTranslator:
    """Normalises each chunk; holds the usage back and re-emits it the way the client asked.

    Chunks come out serialised. A chunk the provider already sent exactly as normalisation
    would leave it is relayed as the provider's own bytes (less a trailing `"usage":null`
    the client did not ask for), which spares re-serialising nearly every chunk of a
    spec-following provider. The chunks that arrived together are checked in one decode.
    After the first chunk that is not spec-exact, the stream is taken to be from a provider
    that needs normalising, and its chunks go straight to that.
    """

    def __init__(self, operation: Operation, target: Target, client_wants_usage: bool) -> None:
        self.usage: Json | None = None
        self._target = target
        self.finished = False
        self._chat = operation == "chat"
        self._strict: msgspec.json.Decoder[Any] = CHAT_CHUNK if self._chat else COMPLETION_CHUNK
        self._strict_read: msgspec.json.Decoder[Any] = (
            CHAT_CHUNKS if self._chat else COMPLETION_CHUNKS
        )
        self._conforming = True
        self._wants_usage = client_wants_usage
        self._last: Json | None = None
        self.text_parts: list[str] = []

    def feed(self, events: Sequence[bytes]) -> list[bytes]:
        if self._conforming and len(events) > 1:  # one event is cheaper on its own
            read = self._relay_read(events)
            if read is not None:
                return read
        out = []
        for data in events:
            if data == _DONE:
                self.finished = True
                continue
            relayed = self._as_sent(data) if self._conforming else None
            if relayed is None:
                relayed = self._normalised(data)
            if relayed is not None:
                out.append(relayed)
        return out

    def _relay_read(self, events: Sequence[bytes]) -> list[bytes] | None:
        """The chunks that arrived together, checked in one decode, then each relayed as sent
        or normalised. None when one of them is not a spec-exact chunk: each is then judged
        on its own."""
        done = events[-1] == _DONE
        body = events[:-1] if done else events
        joined = b",".join(body)
        if LF in joined or CR in joined:
            return None  # a line break would end the client's SSE event early
        try:
            chunks = self._strict_read.decode(b"[" + joined + b"]")
        except msgspec.DecodeError:  # its ValidationError too
            return None
        if len(chunks) != len(body):
            return None  # an event of several JSON values: judged on its own, and dropped
        out = []
        # Of equal length, as checked above; `strict=` would cost a keyword dict per read.
        for data, chunk in zip(body, chunks):  # noqa: B905
            relayed = self._relayable(data, chunk)
            if relayed is None:
                relayed = self._normalised(data)
            if relayed is not None:
                out.append(relayed)
        if done:
            self.finished = True
        return out

    def _as_sent(self, data: bytes) -> bytes | None:
        """The provider's bytes when they need no change, else None (normalise instead)."""
        try:
            chunk = self._strict.decode(data)
        except msgspec.ValidationError:  # JSON, but not spec-exact: normalise from now on
            self._conforming = False
            return None
        except msgspec.DecodeError:  # not JSON: `_normalised` drops it
            return None
        if LF in data or CR in data:
            return None  # a line break would end the client's SSE event early
        return self._relayable(data, chunk)

    def _relayable(self, data: bytes, chunk: Any) -> bytes | None:
        """A spec-exact chunk's bytes, less a `"usage":null` the client did not ask for;
        None when it needs normalising after all. Takes note of the text and the finish on
        the way, as `_observe` does otherwise."""
        if not chunk.choices or chunk.error is not msgspec.UNSET:
            return None  # the usage report, or an error: both handled by `_normalised`
        usage = chunk.usage
        if usage is None:
            # As we always ask for usage, a spec-following provider ends every chunk with
            # `"usage":null`; it stays exactly when the client asked for usage too.
            if not data.endswith(_USAGE_NULL_TAIL):
                return None
            if not self._wants_usage:
                data = data[: -len(_USAGE_NULL_TAIL)] + b"}"
        elif usage is not msgspec.UNSET or self._wants_usage:
            return None
        texts = self.text_parts
        if self._chat:
            for choice in chunk.choices:
                if choice.finish_reason is not None:
                    self.finished = True
                if choice.delta.content:
                    texts.append(choice.delta.content)
        else:
            for choice in chunk.choices:
                if choice.finish_reason is not None:
                    self.finished = True
                if choice.text:
                    texts.append(choice.text)
        return data

    def _normalised(self, data: bytes) -> bytes | None:
        """The chunk made spec-exact; None for what is not sent on (a usage-only chunk,
        held back for `close`, or an event that is not a JSON object)."""
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None  # SSE comments and keep-alives some vendors send as data
        if not isinstance(chunk, dict):
            return None
        if "error" in chunk:
            raise _stream_error(chunk, self._target)
        choices = chunk.get("choices")
        usage = chunk.pop("usage", None)
        if usage:
            self.usage = usage
        self._last = chunk
        if not choices:
            return None  # a usage-only chunk: re-emitted in close(), once, if asked for
        normalize_chunk(chunk, self._chat)
        if self._wants_usage:
            chunk["usage"] = None
        self._observe(choices)
        return orjson.dumps(chunk)

    def _observe(self, choices: list[Json]) -> None:
        for choice in choices:
            if choice.get("finish_reason"):
                self.finished = True
            text = choice["delta"].get("content") if self._chat else choice.get("text")
            if text and isinstance(text, str):
                self.text_parts.append(text)

    def close(self) -> list[bytes]:
        if not (self._wants_usage and self.usage is not None and self._last is not None):
            return []
        last = self._last
        chunk: Json = {
            "id": last.get("id", ""),
            "object": last.get("object") or chunk_object(self._chat),
            "created": last.get("created", 0),
            "model": last.get("model", ""),
            "choices": [],
            "usage": self.usage,
        }
        if last.get("system_fingerprint"):  # optional in the spec, but never null
            chunk["system_fingerprint"] = last["system_fingerprint"]
        return [orjson.dumps(chunk)]


def _parse_object(body: bytes, target: Target) -> Json:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _protocol_error(target, "response is not JSON") from None
    if not isinstance(data, dict):
        raise _protocol_error(target, "response is not a JSON object")
    return data


def _protocol_error(target: Target, what: str) -> UpstreamProtocolError:
    return UpstreamProtocolError(
        f"upstream provider {target.provider!r} sent an invalid response: {what}",
        provider=target.provider,
        retryable=True,
    )


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    """OpenAI's `{"error": {...}}`, and the looser shapes compatible servers use."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None, None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, str):
            return error, None, None, None
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            return (
                _text(message),
                _text(error.get("type")),
                _text(error.get("param")),
                _text(error.get("code")),
            )
    return None, None, None, None


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _stream_error(chunk: Json, target: Target) -> UpstreamError:
    """An error event inside a 200 stream: classified like the status it would have had."""
    error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
    status = error.get("status")
    if not isinstance(status, int):
        status = 500
    return classify(
        status,
        target,
        _text(error.get("message")),
        _text(error.get("type")),
        _text(error.get("param")),
        _text(error.get("code")),
    )
