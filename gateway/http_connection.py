"""One keep-alive connection of the upstream HTTP client (`gateway.http_client`): it writes a
request, has httptools parse the response as it arrives, and hands the response over whole
or read by read, with reading paused while a stream's reader falls behind.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from typing import Protocol

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

# Reading is paused while this much of a stream waits for its reader.
_HIGH_WATER = 256 * 1024


class HttpClientError(Exception):
    """A call that got no complete HTTP response. Messages never name the address."""


class ConnectFailed(HttpClientError):
    """No connection: refused, no such host, TLS not trusted, or no tunnel from the proxy."""


class ClosedEarly(HttpClientError):
    """The server closed the connection before its response's headers."""


class BadResponse(HttpClientError):
    """Not HTTP, a broken body encoding, or a body cut short."""


class Pool(Protocol):
    """Where a connection belongs: its loop, and who takes it back or hears it is gone."""

    loop: asyncio.AbstractEventLoop

    def put_back(self, connection: Connection) -> None: ...

    def lost(self, connection: Connection) -> None: ...


def header_map(raw: list[tuple[bytes, bytes]]) -> CIMultiDictProxy[str]:
    """Headers as they arrived, as a case-insensitive mapping: built only when asked for, as
    most calls never look."""
    return CIMultiDictProxy(
        CIMultiDict((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)
    )


class Connection(asyncio.Protocol):
    """One connection to an origin, carrying one exchange at a time: while a caller holds
    it, it is that exchange's response (`status`, `headers`, `body` or `next_chunk`)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.idle = False  # in its pool, waiting for a caller
        self.idle_since = 0.0
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._whole = False
        self._complete = False
        self._keep_alive = False
        self._closed = False
        self._error: HttpClientError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: zlib._Decompress | None = None
        self._tunnel_reply: bytearray | None = None

    # The caller's side

    async def exchange(self, data: bytes, whole: bool) -> None:
        self.idle = False
        self.status = 0
        self.raw_headers = []
        self._chunks = []
        self._buffered = 0
        self._whole = whole
        self._complete = False
        self._decoder = None
        assert self.transport is not None
        self.transport.write(data)
        while not (self._complete if whole else self.status):
            await self._progress()

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return header_map(self.raw_headers)

    @property
    def body(self) -> bytes:
        """What has arrived of the body and not been taken; all of it after a whole call."""
        return b"".join(self._chunks)

    async def next_chunk(self) -> bytes:
        """All that has arrived since the last call, waiting for some; b"" at the end."""
        while True:
            chunks = self._chunks
            if chunks:
                self._chunks = []
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    assert self.transport is not None
                    self.transport.resume_reading()
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if self._complete:
                return b""
            await self._progress()

    def release(self) -> None:
        """Back to the pool when the response has all arrived and the server keeps the
        connection; closed otherwise (also when reading was paused for an unread stream)."""
        if (
            self._complete
            and self._keep_alive
            and not (self._closed or self._paused or self._error)
        ):
            self._pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.close()

    async def tunnel(
        self, host: str, port: int, proxy_auth: str, tls_context: ssl.SSLContext
    ) -> None:
        """CONNECT through the proxy, then TLS with the origin inside the tunnel."""
        assert self.transport is not None
        self._tunnel_reply = bytearray()
        authority = f"{host}:{port}"
        self.transport.write(
            f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{proxy_auth}\r\n".encode()
        )
        while self._tunnel_reply is not None and b"\r\n\r\n" not in self._tunnel_reply:
            await self._progress()
        reply, self._tunnel_reply = bytes(self._tunnel_reply), None
        if reply.split(b" ", 2)[1:2] != [b"200"]:
            raise ConnectFailed("the proxy refused the tunnel")
        tls = await self._pool.loop.start_tls(
            self.transport, self, tls_context, server_hostname=host
        )
        assert tls is not None
        self.transport = tls

    async def _progress(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = waiter = self._pool.loop.create_future()
        await waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, error: HttpClientError) -> None:
        if self._error is None:
            self._error = error
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_exception(error)
        self.close()

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.idle:
            # Nothing is owed on an idle connection: a server's 408 before it closes, or junk.
            # Read as the answer to the next request it would be the wrong one.
            self.close()
            return
        if self._tunnel_reply is not None:
            self._tunnel_reply += data
            self._wake()
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._fail(BadResponse("the response is not valid HTTP, or switches protocols"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if not self._complete:
            if not self.status:
                self._fail(ClosedEarly("the server closed the connection"))
            elif self._framed():
                self._fail(BadResponse("the response was cut short"))
            else:
                self.on_message_complete()  # a body that runs until the connection closes
        self._pool.lost(self)

    # httptools' side

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))
        if len(name) == 16 and name.lower() == b"content-encoding":
            coding = value.strip().lower()
            if coding in (b"gzip", b"x-gzip"):
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif coding == b"deflate":
                self._decoder = zlib.decompressobj()
            elif coding != b"identity":
                self._fail(BadResponse("the response's content encoding is not supported"))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return  # an interim response (103 Early Hints): the real one follows
        self.status = status
        if not self._whole:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error:
                self._fail(BadResponse("the response's body does not decompress"))
                return
            if not body:
                return  # the decoder holds it back for now; b"" would read as the end
        self._chunks.append(body)
        if not self._whole:
            self._buffered += len(body)
            if self._buffered > _HIGH_WATER and not self._paused:
                self._paused = True
                assert self.transport is not None
                self.transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if not self.status:
            self.raw_headers = []  # the end of an interim response
            return
        decoder = self._decoder
        if decoder is not None:
            tail = decoder.flush()
            if not decoder.eof:
                self._fail(BadResponse("the response's body does not decompress"))
                return
            if tail:
                self._chunks.append(tail)
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()

    def _framed(self) -> bool:
        """Whether the headers said where the body ends (else it ends with the connection)."""
        return any(
            name.lower() in (b"content-length", b"transfer-encoding")
            for name, _ in self.raw_headers
        )
