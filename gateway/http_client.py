"""The HTTP/1.1 client of upstream calls: keep-alive pools per origin, responses parsed by
httptools (llhttp, Node.js's parser, in C).

Why not aiohttp's client: measured, it was more than half of a plain proxied request's CPU
time (a `ClientRequest`, a `ClientResponse`, a `StreamReader`, a payload writer and cookie,
redirect, trace and auth handling per call, none of which a provider call needs). Here a call
is one write and one wait, and a stream one wait per read.

Scope, which is what a provider API needs: bodies of bytes, responses read whole or relayed as
they arrive, TLS with the system's trust store (`SSL_CERT_FILE` honoured), gzip and deflate,
a bounded pool per origin with an idle limit, and HTTP proxies from the environment when
asked (CONNECT for https). No redirects, cookies or HTTP/2.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import urllib.request
import zlib
from collections import deque
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

# The characters a request target may carry as they are (RFC 3986's reserved and unreserved,
# and "%" of escapes already made); anything else, a space or a non-ASCII letter, is escaped.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"
# Reading is paused while this much of a stream waits for its reader.
_HIGH_WATER = 256 * 1024
_ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate\r\n"


class HttpClientError(Exception):
    """A call that got no complete HTTP response. Messages never name the address."""


class ConnectFailed(HttpClientError):
    pass


class ClosedEarly(HttpClientError):
    """The server closed the connection before its response's headers."""


class BadResponse(HttpClientError):
    """Not HTTP, a broken body encoding, or a body cut short."""


class _Target(NamedTuple):
    pool: _Pool
    head: str  # the request's head after the method, up to the caller's headers


class HttpClient:
    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_seconds: float,
        connect_timeout: float,
        trust_env_proxies: bool,
    ) -> None:
        self.max_connections = max_connections
        self.keepalive_seconds = keepalive_seconds
        self.connect_timeout = connect_timeout
        self._trust_env = trust_env_proxies
        self._tls: ssl.SSLContext | None = None
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._targets: dict[str, _Target] = {}

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, *, whole: bool
    ) -> Connection:
        """The connection that carries the response, once the response's headers have arrived
        (or all of it, when `whole`). The caller must `release` it."""
        target = self._targets.get(url) or self._target(url)
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
            raise ValueError("a header name or value holds a line break")
        head = f"{method}{target.head}{fields}Content-Length: {len(body)}\r\n\r\n"
        connection = await target.pool.acquire()
        try:
            await connection.exchange(head.encode("latin-1") + body, whole)
        except BaseException:
            connection.release()
            raise
        return connection

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._targets.clear()
        await asyncio.sleep(0)  # let the transports' close callbacks run

    def _target(self, url: str) -> _Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an upstream URL must be http(s)://host...")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        host_header = host if parts.port in (None, 443 if tls else 80) else f"{host}:{port}"
        path = quote(parts.path or "/", safe=_TARGET_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_TARGET_SAFE)
        origin = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(origin)
        if pool is None:
            proxy = self._proxy_for(parts.scheme, parts.hostname)
            pool = self._pools[origin] = _Pool(self, parts.hostname, port, tls, proxy)
        proxy_auth = ""
        if pool.proxy is not None and not tls:  # a plain request through a proxy: absolute form
            path = f"http://{host_header}{path}"
            proxy_auth = pool.proxy.auth
        head = f" {path} HTTP/1.1\r\nHost: {host_header}\r\n{_ACCEPT_ENCODING}{proxy_auth}"
        if parts.username is not None:
            head += _basic("Authorization", parts.username, parts.password)
        if len(self._targets) >= 1024:
            self._targets.clear()
        target = self._targets[url] = _Target(pool, head)
        return target

    def tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _proxy_for(self, scheme: str, host: str) -> _Proxy | None:
        if not self._trust_env or urllib.request.proxy_bypass(host):
            return None
        url = urllib.request.getproxies().get(scheme)
        if not url:
            return None
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ConnectFailed(f"only http:// proxies are supported, not {parts.scheme}://")
        auth = (
            ""
            if parts.username is None
            else _basic("Proxy-Authorization", parts.username, parts.password)
        )
        return _Proxy(parts.hostname, parts.port or 80, auth)


def _basic(header: str, user: str, password: str | None) -> str:
    """A basic-auth header line for the user info of a URL."""
    credentials = f"{unquote(user)}:{unquote(password or '')}".encode()
    return f"{header}: Basic {base64.b64encode(credentials).decode()}\r\n"


def header_map(raw: list[tuple[bytes, bytes]]) -> CIMultiDictProxy[str]:
    """Headers as they arrived, as a case-insensitive mapping: built only when asked for, as
    most calls never look."""
    return CIMultiDictProxy(
        CIMultiDict((name.decode("latin-1"), value.decode("latin-1")) for name, value in raw)
    )


class _Proxy(NamedTuple):
    host: str
    port: int
    auth: str  # a Proxy-Authorization header line, or ""


class _Pool:
    """The connections to one origin: at most `max_connections`, idle ones reused newest
    first and closed once idle for `keepalive_seconds`."""

    def __init__(
        self, client: HttpClient, host: str, port: int, tls: bool, proxy: _Proxy | None
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.proxy = proxy
        self._client = client
        self._host = host
        self._port = port
        self._tls = tls
        self._idle: deque[Connection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()  # cancelled ones are skipped
        self._sweep_timer: asyncio.TimerHandle | None = None

    async def acquire(self) -> Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._open < self._client.max_connections:
                return await self._connect()
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.cancelled():
                    self._wake()  # woken, but leaving: pass the turn on
                raise

    def put_back(self, connection: Connection) -> None:
        connection.idle_since = self.loop.time()
        self._idle.append(connection)
        if self._sweep_timer is None:
            self._sweep_timer = self.loop.call_later(self._client.keepalive_seconds, self._sweep)
        self._wake()

    def lost(self, connection: Connection) -> None:
        self._open -= 1
        if connection in self._idle:
            self._idle.remove(connection)
        self._wake()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()  # `lost` takes it out of the deque later
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()

    async def _connect(self) -> Connection:
        self._open += 1
        connection = Connection(self)
        client = self._client
        try:
            async with asyncio.timeout(client.connect_timeout):
                if self.proxy is None:
                    await self.loop.create_connection(
                        lambda: connection,
                        self._host,
                        self._port,
                        ssl=client.tls_context() if self._tls else None,
                    )
                else:
                    await self.loop.create_connection(
                        lambda: connection, self.proxy.host, self.proxy.port
                    )
                    if self._tls:
                        await connection.tunnel(
                            self._host, self._port, self.proxy.auth, client.tls_context()
                        )
        except BaseException as exc:
            if connection.transport is None:
                self._open -= 1
                self._wake()
            else:
                connection.transport.close()  # `lost` will count it
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise ConnectFailed("could not connect") from exc
            raise
        return connection

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _sweep(self) -> None:
        self._sweep_timer = None
        limit = self._client.keepalive_seconds
        idle = self._idle
        while idle and self.loop.time() - idle[0].idle_since >= limit:
            idle.popleft().close()
        if idle:
            wait = idle[0].idle_since + limit - self.loop.time()
            self._sweep_timer = self.loop.call_later(max(wait, 0.0), self._sweep)


class Connection(asyncio.Protocol):
    """One connection to an origin, carrying one exchange at a time: while a caller holds
    it, it is that exchange's response (`status`, `headers`, `body` or `next_chunk`)."""

    def __init__(self, pool: _Pool) -> None:
        self._pool = pool
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
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
