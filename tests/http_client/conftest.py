"""The upstream HTTP client runs on uvloop in the gateway; its tests run on both loops. Their
servers: bare sockets for what an HTTP server would not send, and a TLS server with its own
certificate."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import uvloop
from aiohttp.test_utils import TestServer

from gateway.http_client import HttpClient
from tests.fakes.certs import self_signed
from tests.http_client.servers import Handler, RawServer, SocketServer, client, echo_app


def pytest_asyncio_loop_factories(config: Any, item: Any) -> Mapping[str, Any]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    made = client()
    yield made
    await made.close()


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
