"""TLS verified against the trust store, and proxies from the environment: plain requests in
absolute form, https through a CONNECT tunnel."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from pathlib import Path

import orjson
import pytest

from gateway.http_connection import ConnectFailed
from tests.http_client.servers import (
    SocketServer,
    StartUpstream,
    call,
    client,
    echo_app,
)


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
