"""`create_app`: the only place the application is assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import CONFIG, METRICS, ROUTING, TRANSPORTS
from gateway.config import GatewayConfig, ProviderConfig, RoutingConfig, UpstreamConfig
from gateway.demo import DemoTransport
from gateway.metrics import Metrics
from gateway.middleware import chain
from gateway.middleware.request_id import stamp_response
from gateway.routes import add_routes
from gateway.routing.table import RoutingHolder, RoutingTable
from gateway.upstream import HttpTransport, Transport


def create_app(config: GatewayConfig, routing: RoutingConfig, master_key: str) -> web.Application:
    app = web.Application(
        middlewares=chain(master_key), client_max_size=config.server.max_body_bytes
    )
    app[CONFIG] = config
    app[ROUTING] = RoutingHolder(RoutingTable(routing))
    app[METRICS] = Metrics()
    app.on_response_prepare.append(stamp_response)
    # Resources in dependency order; aiohttp tears them down in reverse.
    app.cleanup_ctx.append(_transports)
    add_routes(app)
    return app


async def _transports(app: web.Application) -> AsyncIterator[None]:
    providers = app[ROUTING].table.config.providers
    upstream = app[CONFIG].upstream
    transports = {name: _transport(name, p, upstream) for name, p in providers.items()}
    app[TRANSPORTS] = transports
    yield
    for transport in transports.values():
        await transport.close()


def _transport(name: str, provider: ProviderConfig, upstream: UpstreamConfig) -> Transport:
    if provider.adapter == "demo":
        return DemoTransport()
    return HttpTransport(name, upstream)
