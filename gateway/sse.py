"""Server-sent events: an incremental parser for upstream streams and the framing for ours."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
_DATA = b"data: "
_END = b"\n\n"


class SSEParser:
    """Bytes in as they arrive, complete events' `data` out. Comments and other fields
    (`event:`, `id:`, `: keep-alive`) are dropped: OpenAI-style streams carry all in `data`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *events, self._buffer = buffer.split(_END)
        out = []
        for event in events:
            # Nearly every event is one `data: ` line; only the others need splitting.
            if event[:6] == _DATA and b"\n" not in event:
                out.append(event[6:])
                continue
            data = [_field_value(line) for line in event.split(b"\n") if line[:5] == b"data:"]
            if data:
                out.append(b"\n".join(data))
        return out


def _field_value(line: bytes) -> bytes:
    value = line[5:]
    return value[1:] if value[:1] == b" " else value


def encode(payload: Any) -> bytes:
    return _DATA + orjson.dumps(payload) + _END


def frame(documents: Iterable[bytes]) -> bytes:
    """Events for JSON documents already serialised (each free of line breaks)."""
    return b"".join([part for document in documents for part in (_DATA, document, _END)])
