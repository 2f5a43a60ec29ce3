"""The adapter contract: pure translation between OpenAI's wire format and a provider's.

An adapter never does I/O, never logs and never imports aiohttp. The proxy hands it parsed
JSON and a `Target`, and gets back bytes to send; it hands it upstream bytes and gets back
OpenAI-shaped bytes. Transport (pooling, timeouts, connection errors) lives in `upstream`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from gateway.errors import UpstreamError

Operation = Literal["chat", "completions", "embeddings"]
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one deployment lives, with everything an adapter needs precomputed at load time."""

    provider: str
    model: str
    api_base: str
    api_key: str | None
    api_version: str | None
    headers: Mapping[str, str]


class UpstreamRequest(NamedTuple):
    """One per attempt: a named tuple is built at a fraction of a frozen dataclass's cost."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool


class Answer(NamedTuple):
    """A whole response made OpenAI-exact: the body for the client, and the usage in it."""

    body: bytes
    usage: Json | None


class StreamTranslator(Protocol):
    """Upstream SSE `data` payloads in (those that arrived together, in order), OpenAI
    chunks out, serialised (JSON without line breaks, ready to frame); state explicit.

    `usage` is the token usage seen so far (None until the provider reports it),
    `finished` tells a clean end of stream from a dropped connection, and `text_parts` is
    the generated text, for counting when the provider reports no usage.
    """

    usage: Json | None
    finished: bool
    text_parts: list[str]

    def feed(self, events: Sequence[bytes]) -> list[bytes]: ...

    def close(self) -> list[bytes]: ...


class Adapter(Protocol):
    name: str
    operations: frozenset[Operation]
    needs_api_base: bool

    def to_upstream_request(
        self, operation: Operation, payload: Json, target: Target
    ) -> UpstreamRequest: ...

    def from_upstream_response(
        self, operation: Operation, body: bytes, target: Target
    ) -> Answer: ...

    def stream_translator(
        self, operation: Operation, payload: Json, target: Target
    ) -> StreamTranslator: ...

    def classify_error(self, status: int, body: bytes, target: Target) -> UpstreamError: ...
