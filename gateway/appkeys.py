"""The typed keys of the shared objects an app owns (aiohttp's "no singletons")."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from gateway.admin_api.throttle import LoginThrottle
from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.config import GatewayConfig
from gateway.limits.alerts import AlertDispatcher
from gateway.metering.tokens import TokenCounter
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics
from gateway.routing.breaker_sync import BreakerSync
from gateway.routing.health import HealthBoard
from gateway.routing.reload import Reloader
from gateway.routing.table import RoutingHolder
from gateway.transports import TransportPool

CONFIG = web.AppKey("config", GatewayConfig)
ROUTING = web.AppKey("routing", RoutingHolder)
TRANSPORTS = web.AppKey("transports", TransportPool)
RELOADER = web.AppKey("reloader", Reloader)
USAGE_WRITER = web.AppKey("usage_writer", UsageWriter)
ALERTS = web.AppKey("alerts", AlertDispatcher)
TOKENS = web.AppKey("tokens", TokenCounter)
BREAKER_SYNC = web.AppKey("breaker_sync", BreakerSync)
METRICS = web.AppKey("metrics", Metrics)
HEALTH = web.AppKey("health", HealthBoard)
DSN = web.AppKey("dsn", str)
POOL = web.AppKey("pool", asyncpg.Pool)
KEY_CACHE = web.AppKey("key_cache", KeyCache[KeyInfo])
KEY_USE = web.AppKey("key_use", KeyUseRecorder)
# Failed sign-ins, counted once for the admin API and the console together.
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
