"""The HTTP client's tests' helpers: a client with test settings, a whole call, and the
servers' shapes (aiohttp apps for what servers normally send)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.http_client import HttpClient

StartUpstream = Callable[[web.Application], Awaitable[str]]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SocketServer = Callable[[Handler], Awaitable[str]]  # starts a bare socket server: its URL
RawServer = Callable[[bytes], Awaitable[tuple[str, list[bytes]]]]  # URL, request heads


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
