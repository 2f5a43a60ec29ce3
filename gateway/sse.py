"""Server-sent events: an incremental parser for upstream streams and the framing for ours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
_DATA = b"data: "
_END = b"\n\n"
_BETWEEN = _END + _DATA
# Line breaks as byte values: `byte in data` with an int is a plain scan, while `bytes in
# bytes` first tries its operand as an int, raising and clearing a TypeError on every call.
CR = ord("\r")
LF = ord("\n")


class SSEParser:
    """Bytes in as they arrive, complete events' `data` out. Comments and other fields
    (`event:`, `id:`, `: keep-alive`) are dropped: OpenAI-style streams carry all in `data`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if CR in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        complete, _, self._buffer = buffer.rpartition(_END)
        # Nearly every event is one `data: ` line: then the complete events are such lines
        # parted by blank lines, and none holds another line break. Split and checked in C,
        # however many arrived together; anything else takes the full parse.
        if complete[:6] == _DATA:
            events = complete[6:].split(_BETWEEN)
            if LF not in b"".join(events):
                return events
        return [data for event in complete.split(_END) if (data := _data_of(event)) is not None]


def _data_of(event: bytes) -> bytes | None:
    data = [_field_value(line) for line in event.split(b"\n") if line[:5] == b"data:"]
    return b"\n".join(data) if data else None


def _field_value(line: bytes) -> bytes:
    value = line[5:]
    return value[1:] if value[:1] == b" " else value


def encode(payload: Any) -> bytes:
    return _DATA + orjson.dumps(payload) + _END


def frame(documents: Sequence[bytes]) -> bytes:
    """Events for JSON documents already serialised (each free of line breaks)."""
    if not documents:
        return b""
    return _DATA + _BETWEEN.join(documents) + _END
