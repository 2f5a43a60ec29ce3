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
from collections import deque
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from gateway.http_connection import ConnectFailed, Connection

# The characters a request target may carry as they are (RFC 3986's reserved and unreserved,
# and "%" of escapes already made); anything else, a space or a non-ASCII letter, is escaped.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"
_ACCEPT_ENCODING = "Accept-Encoding: gzip, deflate\r\n"


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
        connection.idle = True
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
