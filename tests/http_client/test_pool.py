"""The connections to an origin: how many at once, who waits, and which are reused or closed."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.http_client import HttpClient
from gateway.http_connection import ConnectFailed
from tests.http_client.servers import (
    RawServer,
    SocketServer,
    StartUpstream,
    call,
    client,
    posting,
)
from tests.sdk_stack import closed_port


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
