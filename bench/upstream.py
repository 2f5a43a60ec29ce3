"""A fake OpenAI upstream fast enough never to be the bottleneck: raw asyncio and httptools.

Answers `POST .../chat/completions` with precomputed bytes: a chat completion, or (when the
body asks for `"stream": true`) a short SSE stream sent in one write, with a usage chunk when
the body asks for `"include_usage": true`. With `"metadata": {"bench": "paced"}` the stream's
events go out one by one, `PACE` seconds apart, as a provider generating tokens sends them,
so a proxy reads and writes each on its own. Any other path gets a 404, so a proxy that
rewrites paths wrongly shows up as errors instead of as suspiciously good numbers.

    python bench/upstream.py --port P
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast

import httptools
import orjson
import uvloop

_ID = "chatcmpl-bench"
_CREATED = 1_700_000_000
_MODEL = "bench-model"

_COMPLETION = orjson.dumps(
    {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": _MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from bench.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
    }
)


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _chunk(delta: dict[str, object], finish: str | None, usage: bool) -> bytes:
    chunk: dict[str, object] = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": _MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:  # as OpenAI does: every chunk carries `usage: null` until the usage chunk
        chunk["usage"] = None
    return _event(chunk)


def _stream_events(usage: bool) -> list[bytes]:
    """Ten chunks (role, eight content deltas, stop), the usage chunk if asked, `[DONE]`."""
    events = [_chunk({"role": "assistant", "content": ""}, None, usage)]
    events += [_chunk({"content": f"word{i} "}, None, usage) for i in range(8)]
    events.append(_chunk({}, "stop", usage))
    if usage:
        events.append(
            _event(
                {
                    "id": _ID,
                    "object": "chat.completion.chunk",
                    "created": _CREATED,
                    "model": _MODEL,
                    "system_fingerprint": "fp_bench",
                    "choices": [],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
                }
            )
        )
    events.append(b"data: [DONE]\n\n")
    return events


def _chunked(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
    return head % (status, content_type, len(body)) + body


_PLAIN = _response(b"200 OK", b"application/json", _COMPLETION)
_NOT_FOUND = _response(
    b"404 Not Found",
    b"application/json",
    b'{"error":{"message":"not found","type":"invalid_request_error"}}',
)
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)
_LAST_CHUNK = b"0\r\n\r\n"
PACE = 0.001  # seconds between the events of a paced stream
# The pieces of each response, written `PACE` apart: all at once unless paced.
_STREAMS = {
    usage: (_STREAM_HEAD + _chunked(b"".join(_stream_events(usage))) + _LAST_CHUNK,)
    for usage in (False, True)
}
_PACED_STREAMS = {
    usage: (
        _STREAM_HEAD,
        *(_chunked(event) for event in _stream_events(usage)),
        _LAST_CHUNK,
    )
    for usage in (False, True)
}


def answer(path: bytes, body: bytes) -> tuple[bytes, ...]:
    """The response for one request, in the pieces to write; substring checks keep it cheap."""
    if not path.split(b"?", 1)[0].endswith(b"/chat/completions"):
        return (_NOT_FOUND,)
    compact = body.replace(b" ", b"")
    if b'"stream":true' in compact:
        streams = _PACED_STREAMS if b'"bench":"paced"' in compact else _STREAMS
        return streams[b'"include_usage":true' in compact]
    return (_PLAIN,)


class _Protocol(asyncio.Protocol):
    """One connection: HTTP/1.1 keep-alive (pipelining works too), closed on request."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, though they implement it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        first, *rest = answer(self._url, b"".join(self._body))
        self._url = b""
        self._body.clear()
        transport.write(first)
        close = not self._parser.should_keep_alive()
        if not rest:
            if close:
                transport.close()
            return
        loop = asyncio.get_running_loop()
        for number, piece in enumerate(rest, 1):
            last = number == len(rest)
            loop.call_later(number * PACE, self._write_later, piece, last and close)

    def _write_later(self, piece: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the client went away meanwhile
        transport.write(piece)
        if close:
            transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake OpenAI upstream on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
