"""The typed keys of the shared objects an app owns (aiohttp's "no singletons")."""

from __future__ import annotations

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.metrics import Metrics
from gateway.routing.table import RoutingHolder
from gateway.upstream import Transport

CONFIG = web.AppKey("config", GatewayConfig)
ROUTING = web.AppKey("routing", RoutingHolder)
TRANSPORTS = web.AppKey("transports", dict[str, Transport])
METRICS = web.AppKey("metrics", Metrics)
