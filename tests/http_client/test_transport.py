"""The provider transport over the HTTP client: what a call keeps after its connection moves
on to the next call."""

from __future__ import annotations

from aiohttp import web

from gateway.adapters.base import UpstreamRequest
from gateway.config import UpstreamConfig
from gateway.upstream import HttpTransport
from tests.http_client.servers import StartUpstream, posting


async def test_a_released_call_keeps_its_own_headers_and_body(
    start_upstream: StartUpstream,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        n = await request.text()
        return web.Response(text=f"answer {n}", headers={"Retry-After": n})

    base = await start_upstream(posting(answer))
    transport = HttpTransport("up", UpstreamConfig(max_connections_per_provider=1))
    try:
        first = await transport.open(UpstreamRequest("POST", f"{base}/", {}, b"1", False))
        first.release()
        second = await transport.open(UpstreamRequest("POST", f"{base}/", {}, b"2", False))
        second.release()  # the same connection, the only one allowed
    finally:
        await transport.close()
    assert (first.headers["retry-after"], await first.read()) == ("1", b"answer 1")
    assert (second.headers["retry-after"], await second.read()) == ("2", b"answer 2")
