"""The upstream HTTP client against real servers on loopback: aiohttp apps for what servers
normally send, raw sockets for what they should not, a TLS server with its own certificate,
and a proxy speaking both forms of proxied HTTP."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.http_client import HttpClient
from gateway.http_connection import BadResponse, ClosedEarly, ConnectFailed
from tests.fakes.certs import self_signed
from tests.sdk_stack import closed_port

StartUpstream = Callable[[web.Application], Awaitable[str]]


def client(**settings: Any) -> HttpClient:
    defaults: dict[str, Any] = {
        "max_connections": 10,
        "keepalive_seconds": 30.0,
        "connect_timeout": 2.0,
        "trust_env_proxies": False,
    }
    return HttpClient(**{**defaults, **settings})


async def call(http: HttpClient, url: str, body: bytes = b"{}", **headers: str) -> bytes:
    response = await http.send("POST", url, headers, body, whole=True)
    try:
        return response.body
    finally:
        response.release()


def echo_app() -> web.Application:
    """Answers with what it was sent and which connection it came on."""

    async def echo(request: web.Request) -> web.Response:
        assert request.transport is not None
        return web.json_response(
            {
                "path": request.path_qs,
                "body": (await request.read()).decode(),
                "headers": dict(request.headers),
                "peer": request.transport.get_extra_info("peername")[1],
            }
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def posting(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    """An app answering `POST /` with `handler`."""
    app = web.Application()
    app.router.add_post("/", handler)
    return app


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    made = client()
    yield made
    await made.close()


async def test_a_request_arrives_as_sent_and_the_connection_is_kept(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    base = await start_upstream(echo_app())
    first = await http.send(
        "POST",
        f"{base}/v1/chat?api-version=2024-10-21",
        {"Authorization": "Bearer k"},
        b"hi",
        whole=True,
    )
    assert first.status == 200
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    seen = orjson.loads(first.body)
    first.release()
    assert seen["path"] == "/v1/chat?api-version=2024-10-21"
    assert seen["body"] == "hi"
    assert seen["headers"]["Authorization"] == "Bearer k"
    assert seen["headers"]["Host"] == base.removeprefix("http://")
    assert seen["headers"]["Content-Length"] == "2"
    again = orjson.loads(await call(http, f"{base}/v1/chat"))
    assert again["peer"] == seen["peer"]  # the same connection, kept alive


async def test_a_path_is_escaped_once_and_user_info_becomes_basic_auth(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    base = await start_upstream(echo_app())
    url = base.replace("http://", "http://ollama:s%3Acret@") + "/model/a b:v1%3A0/invoke"
    seen = orjson.loads(await call(http, url))
    assert seen["path"] == "/model/a%20b:v1%3A0/invoke"
    expected = base64.b64encode(b"ollama:s:cret").decode()
    assert seen["headers"]["Authorization"] == f"Basic {expected}"


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    requests: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        requests.append(request)
        return web.Response()

    base = await start_upstream(posting(record))
    for value in ("a\r\nX-Injected: 1", "a\nb", "a\rb"):
        with pytest.raises(ValueError, match="line break"):
            await http.send("POST", f"{base}/", {"X-Custom": value}, b"", whole=True)
    await call(http, f"{base}/")
    assert len(requests) == 1


async def test_a_stream_is_handed_over_as_it_arrives(
    http: HttpClient, start_upstream: StartUpstream
) -> None:
    release = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await release.wait()
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    base = await start_upstream(posting(stream))
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    assert await response.next_chunk() == b"data: one\n\n"  # before the server has finished
    release.set()
    assert await response.next_chunk() == b"data: two\n\n"
    assert await response.next_chunk() == b""
    response.release()
    assert await call(http, f"{base}/")  # the connection went back and serves again


@pytest.mark.parametrize("coding", [web.ContentCoding.gzip, web.ContentCoding.deflate])
@pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])
async def test_a_compressed_body_is_decoded(
    http: HttpClient, start_upstream: StartUpstream, coding: web.ContentCoding, whole: bool
) -> None:
    text = b"".join(b"data: %d\n\n" % i for i in range(5000))

    async def compressed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_compression(coding)  # as the client allows
        await response.prepare(request)
        for start in range(0, len(text), 4096):
            await response.write(text[start : start + 4096])
        await response.write_eof()
        return response

    base = await start_upstream(posting(compressed))
    response = await http.send("POST", f"{base}/", {}, b"", whole=whole)
    assert response.headers["Content-Encoding"] == coding.value
    if whole:
        got = response.body
    else:
        got = b""
        while chunk := await response.next_chunk():
            got += chunk
    response.release()
    assert got == text


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SocketServer = Callable[[Handler], Awaitable[str]]
RawServer = Callable[[bytes], Awaitable[tuple[str, list[bytes]]]]


@pytest.fixture
async def socket_server() -> AsyncIterator[SocketServer]:
    """Servers on bare sockets, for what an HTTP server would not send; returns the base URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
def raw_server(socket_server: SocketServer) -> RawServer:
    """Servers that read a request's head, answer with the given bytes verbatim and close."""

    async def start(reply: bytes) -> tuple[str, list[bytes]]:
        heads: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                heads.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(reply)
                await writer.drain()
            finally:
                writer.close()

        return await socket_server(serve), heads

    return start


async def test_a_body_without_framing_runs_to_the_close(
    http: HttpClient, raw_server: RawServer
) -> None:
    base, _ = await raw_server(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
    assert await call(http, f"{base}/") == b"until the end"


async def test_an_interim_response_is_skipped(http: HttpClient, raw_server: RawServer) -> None:
    base, _ = await raw_server(
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    response = await http.send("POST", f"{base}/", {}, b"", whole=True)
    assert (response.status, response.body, "link" in response.headers) == (201, b"ok", False)
    response.release()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"", ClosedEarly),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", BadResponse),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", BadResponse),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", BadResponse),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            BadResponse,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx", BadResponse),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", BadResponse),
    ],
    ids=["no-answer", "short-length", "short-chunked", "not-http", "upgrade", "brotli", "bad-gzip"],
)
async def test_a_broken_answer_is_an_error_of_its_kind(
    http: HttpClient, raw_server: RawServer, reply: bytes, error: type[Exception]
) -> None:
    base, _ = await raw_server(reply)
    for whole in (True, False):
        with pytest.raises(error):
            response = await http.send("POST", f"{base}/", {}, b"", whole=whole)
            try:
                while await response.next_chunk():
                    pass
            finally:
                response.release()


async def test_nothing_listening_fails_to_connect(http: HttpClient) -> None:
    with pytest.raises(ConnectFailed) as caught:
        await call(http, f"http://127.0.0.1:{closed_port()}/")
    assert "127.0.0.1" not in str(caught.value)


async def test_the_pool_holds_no_more_connections_than_allowed(
    start_upstream: StartUpstream,
) -> None:
    peers: set[int] = set()
    at_once = 0
    most = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal at_once, most
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername")[1])
        at_once += 1
        most = max(most, at_once)
        await asyncio.sleep(0.05)
        at_once -= 1
        return web.Response(text="ok")

    base = await start_upstream(posting(slow))
    http = client(max_connections=2)
    try:
        answers = await asyncio.gather(*(call(http, f"{base}/") for _ in range(8)))
    finally:
        await http.close()
    assert answers == [b"ok"] * 8
    assert most == 2
    assert len(peers) == 2


async def test_a_caller_that_gives_up_leaves_the_pool_whole(
    start_upstream: StartUpstream,
) -> None:
    gate = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        if (await request.read()) == b"hold":
            await gate.wait()
        return web.Response(text="ok")

    base = await start_upstream(posting(held))
    http = client(max_connections=1)
    try:
        holder = asyncio.create_task(call(http, f"{base}/", b"hold"))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(call(http, f"{base}/"))  # queued behind the holder
        await asyncio.sleep(0.05)
        waiting.cancel()
        holder.cancel()  # mid-response: its connection is closed, not reused
        await asyncio.gather(waiting, holder, return_exceptions=True)
        gate.set()
        assert await asyncio.wait_for(call(http, f"{base}/"), 2) == b"ok"
    finally:
        await http.close()


async def test_idle_connections_are_closed_after_the_keepalive(
    socket_server: SocketServer,
) -> None:
    closed = asyncio.Event()
    connections = 0

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except asyncio.IncompleteReadError:
            closed.set()  # by the client: the server never closes
        finally:
            writer.close()

    base = await socket_server(keep_alive)
    http = client(keepalive_seconds=0.2)
    try:
        assert await call(http, f"{base}/", b"") == b"ok"
        assert await call(http, f"{base}/", b"") == b"ok"
        assert connections == 1
        await asyncio.wait_for(closed.wait(), 2)  # with no call to prompt it
        assert await call(http, f"{base}/", b"") == b"ok"
        assert connections == 2
    finally:
        await http.close()


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    http: HttpClient, raw_server: RawServer
) -> None:
    base, heads = await raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert await call(http, f"{base}/") == b"ok"  # the server closes after answering
    await asyncio.sleep(0.05)
    assert await call(http, f"{base}/") == b"ok"
    assert len(heads) == 2


async def test_what_a_server_sends_on_an_idle_connection_is_no_answer(
    http: HttpClient, socket_server: SocketServer
) -> None:
    connections = 0

    async def then_408(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        body = b"connection %d" % connections
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    base = await socket_server(then_408)
    assert await call(http, f"{base}/", b"") == b"connection 1"
    await asyncio.sleep(0.1)  # the 408 arrives; the server leaves the connection open
    assert await call(http, f"{base}/", b"") == b"connection 2"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key_pem, cert_pem = self_signed("upstream", hosts=("localhost",))
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_text(key_pem)
    cert.write_text(cert_pem)
    return key, cert


@pytest.fixture
async def tls_upstream(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """An echoing upstream on https://localhost:port, with the certificate above."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[1], certificate[0])
    server = TestServer(echo_app(), host="127.0.0.1")
    await server.start_server(ssl=context)
    yield f"https://localhost:{server.make_url('').port}"
    await server.close()


async def test_tls_is_verified_against_the_trust_store(
    certificate: tuple[Path, Path], tls_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tls_upstream
    untrusting = client()
    with pytest.raises(ConnectFailed):
        await call(untrusting, f"{base}/v1")
    await untrusting.close()
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))
    trusting = client()
    seen = orjson.loads(await call(trusting, f"{base}/v1"))
    await trusting.close()
    assert seen["path"] == "/v1"
    assert seen["headers"]["Host"] == base.removeprefix("https://")


class Proxy:
    """An HTTP proxy: absolute-form requests forwarded, CONNECT tunnelled."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        method, target, _ = head.split(b" ", 2)
        if method == b"CONNECT":
            port = int(target.rsplit(b":", 1)[1])
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            first = b""
        else:
            host_port = target.decode().split("/")[2]
            up_reader, up_writer = await asyncio.open_connection(*host_port.split(":"))
            first = head.replace(target, b"/" + target.split(b"/", 3)[3], 1)
        up_writer.write(first)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def test_proxies_from_the_environment_when_trusted(
    certificate: tuple[Path, Path],
    tls_upstream: str,
    start_upstream: StartUpstream,
    socket_server: SocketServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = Proxy()
    address = (await socket_server(proxy.serve)).replace("http://", "http://user:pa%40ss@")
    plain, secure = await start_upstream(echo_app()), tls_upstream
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("HTTPS_PROXY", address)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[1]))
    proxied, direct = client(trust_env_proxies=True), client()
    try:
        via_plain = orjson.loads(await call(proxied, f"{plain}/v1/a"))
        via_tls = orjson.loads(await call(proxied, f"{secure}/v1/b"))
        await call(direct, f"{plain}/v1/c")
    finally:
        await proxied.close()
        await direct.close()
    assert via_plain["path"] == "/v1/a"
    assert via_tls["path"] == "/v1/b"
    credentials = base64.b64encode(b"user:pa@ss").decode()
    assert len(proxy.heads) == 2  # the client that does not trust the environment went direct
    plain_head, tunnel_head = proxy.heads
    assert plain_head.startswith(f"POST {plain}/v1/a HTTP/1.1\r\n".encode())
    authority = secure.removeprefix("https://")
    assert tunnel_head.startswith(f"CONNECT {authority} HTTP/1.1\r\n".encode())
    for head in proxy.heads:
        assert f"Proxy-Authorization: Basic {credentials}\r\n".encode() in head


async def test_a_stream_nobody_reads_stops_the_sender(
    http: HttpClient, socket_server: SocketServer
) -> None:
    total = 64 * 1024 * 1024
    sent = 0

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        block = b"x" * 65536
        while sent < total:
            writer.write(block)
            await writer.drain()  # waits while the client is not reading
            sent += len(block)
        writer.close()

    base = await socket_server(flood)
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    await asyncio.sleep(0.3)
    assert sent < total / 4  # held back by the sockets' buffers, not taken into memory
    received = 0
    while chunk := await response.next_chunk():
        received += len(chunk)
    response.release()
    assert received == total


async def test_compressed_bytes_that_decode_to_nothing_yet_do_not_end_a_stream(
    http: HttpClient, socket_server: SocketServer
) -> None:
    packed = gzip.compress(b"data: hello\n\n")

    async def slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for part in (packed[:4], packed[4:]):  # the first part is only the gzip header's start
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        writer.close()

    base = await socket_server(slowly)
    response = await http.send("POST", f"{base}/", {}, b"", whole=False)
    assert await response.next_chunk() == b"data: hello\n\n"
    assert await response.next_chunk() == b""
    response.release()
