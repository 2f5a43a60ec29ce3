"""The reference floor: a bare aiohttp pass-through proxy, one pooled session, no checks.

Whatever the gateway costs beyond this is the gateway's own work; what this costs is the
price of aiohttp on both sides, which no aiohttp-based gateway can avoid.

    python bench/passthrough.py --port P --upstream http://127.0.0.1:U
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web


def create(upstream: str) -> web.Application:
    """One pooled session for the app's life (no connection limit, keep-alive), as a gateway
    would hold it, so the floor pays for no handshakes the gateway would not pay for either."""
    app = web.Application()
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def session(app: web.Application) -> AsyncIterator[None]:
        app[session_key] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app[session_key].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        async with app[session_key].post(
            upstream + request.path, data=body, headers={"Content-Type": "application/json"}
        ) as upstream_response:
            if upstream_response.content_type != "text/event-stream":
                return web.Response(
                    body=await upstream_response.read(),
                    status=upstream_response.status,
                    content_type=upstream_response.content_type,
                )
            response = web.StreamResponse(
                status=upstream_response.status, headers={"Content-Type": "text/event-stream"}
            )
            await response.prepare(request)
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/{tail:.*}", proxy)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="bare aiohttp pass-through on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    web.run_app(
        create(args.upstream),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
