"""`create_app`: the only place the application is assembled."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from redis import asyncio as aioredis

from gateway.admin_api.routes import PREFIX as ADMIN_API_PREFIX
from gateway.admin_api.routes import create_admin_api
from gateway.admin_api.throttle import LoginThrottle
from gateway.admin_ui.app import PREFIX as ADMIN_UI_PREFIX
from gateway.admin_ui.app import create_admin_ui
from gateway.appkeys import (
    ALERTS,
    BREAKER_SYNC,
    CONFIG,
    DSN,
    HEALTH,
    KEY_CACHE,
    KEY_USE,
    METRICS,
    POOL,
    RELOADER,
    ROUTING,
    THROTTLE,
    TOKENS,
    TRANSPORTS,
    USAGE_WRITER,
)
from gateway.auth import invalidation
from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.cache.backend import MemoryCache, RedisCache, ResponseCache
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.limits.alerts import AlertDispatcher
from gateway.limits.buckets import Limiter
from gateway.limits.memory import MemoryLimiter
from gateway.limits.redis_limiter import RedisLimiter
from gateway.metering.tokenizer import load_tokenizer
from gateway.metering.tokens import TokenCounter
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics
from gateway.middleware import ChainDeps, chain
from gateway.middleware.request_id import make_stamp
from gateway.routes import add_routes
from gateway.routing.breaker_sync import BreakerSync
from gateway.routing.health import HealthBoard
from gateway.routing.reload import Reloader
from gateway.routing.schema import RoutingConfig
from gateway.routing.table import RoutingHolder, RoutingTable
from gateway.store import keys as key_store
from gateway.store.database import create_pool
from gateway.store.migrations import migrate
from gateway.transports import TransportPool


def create_app(
    config: GatewayConfig,
    routing: RoutingConfig,
    credentials: Credentials,
    dsn: str,
    routing_path: Path | None = None,
) -> web.Application:
    """`dsn` is resolved by the caller (an embedded server is started before any worker);
    `routing_path` is the file `routing` came from, watched for changes (None: not watched)."""
    app = web.Application(client_max_size=config.server.max_body_bytes)

    async def load_key(key_hash: bytes) -> KeyInfo | None:
        row = await key_store.auth_view(app[POOL], key_hash)
        return KeyInfo.from_row(row) if row else None

    key_cache: KeyCache[KeyInfo] = KeyCache(load_key)
    key_use = KeyUseRecorder(lambda: app[POOL])
    holder = RoutingHolder(RoutingTable(routing))
    board = HealthBoard(routing.router.breaker)
    metrics = Metrics()
    redis = _redis(app, config)
    alerts = AlertDispatcher(lambda: app[POOL])
    tokens = TokenCounter()
    app[TOKENS] = tokens
    response_cache: ResponseCache = (
        RedisCache(redis)
        if redis is not None and config.cache.backend == "redis"
        else MemoryCache(config.cache.max_bytes)
    )
    limiter: Limiter = (
        RedisLimiter(redis, metrics, fail_open=config.limits.redis_failure == "open")
        if redis is not None and config.limits.backend == "redis"
        else MemoryLimiter()
    )
    usage_writer = UsageWriter(lambda: app[POOL], config.server.data_dir / "usage-journal", metrics)
    app.middlewares.extend(
        chain(
            ChainDeps(
                config=config,
                master_key=credentials.master_key,
                keys=key_cache,
                key_use=key_use,
                limiter=limiter,
                alerts=alerts,
                usage_writer=usage_writer,
                tokens=tokens,
                routing=holder,
                health=board,
                response_cache=response_cache,
                metrics=metrics,
            )
        )
    )

    app[USAGE_WRITER] = usage_writer
    app[ALERTS] = alerts
    transports = TransportPool(config.upstream)
    app[CONFIG] = config
    app[ROUTING] = holder
    app[TRANSPORTS] = transports
    app[RELOADER] = Reloader(holder, routing_path, transports, metrics)
    app[HEALTH] = board
    app[METRICS] = metrics
    app[KEY_CACHE] = key_cache
    app[KEY_USE] = key_use
    app.on_response_prepare.append(make_stamp(metrics))
    # Resources in dependency order; aiohttp tears them down in reverse.
    app[DSN] = dsn
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_key_invalidation)
    app.cleanup_ctx.append(_transports)
    app.cleanup_ctx.append(_tokenizer)
    app.cleanup_ctx.append(_routing_reloads)
    app.cleanup_ctx.append(_key_use_writer)
    app.cleanup_ctx.append(_usage_writer)
    app.cleanup_ctx.append(_alerts)
    if redis is not None:
        app[BREAKER_SYNC] = BreakerSync(redis, board)
        app.cleanup_ctx.append(_breaker_sync)
    add_routes(app)
    app[THROTTLE] = LoginThrottle()
    app.add_subapp(
        ADMIN_API_PREFIX,
        create_admin_api(credentials.master_key, credentials.admin_token_secret),
    )
    # After the API: /admin/api/... resolves to the longer prefix first either way, but the
    # order states it.
    app.add_subapp(ADMIN_UI_PREFIX, create_admin_ui(credentials.admin_token_secret, config.admin))
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    pool = await create_pool(app[DSN])
    if app[CONFIG].database.migrate_on_start:
        async with pool.acquire() as connection:
            await migrate(connection)
    app[POOL] = pool
    yield
    await pool.close()


async def _key_invalidation(app: web.Application) -> AsyncIterator[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(invalidation.listen(app[DSN], app[KEY_CACHE], ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _transports(app: web.Application) -> AsyncIterator[None]:
    app[TRANSPORTS].sync(app[ROUTING].table.config.providers)
    yield
    await app[TRANSPORTS].close()


async def _routing_reloads(app: web.Application) -> AsyncIterator[None]:
    """The file watcher, and SIGHUP where the process may take signals (the main thread)."""
    reloader = app[RELOADER]
    watcher = asyncio.create_task(reloader.watch())
    loop = asyncio.get_running_loop()
    hangup = threading.current_thread() is threading.main_thread()
    if hangup:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reloader.reload()))
    yield
    if hangup:
        loop.remove_signal_handler(signal.SIGHUP)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher


async def _breaker_sync(app: web.Application) -> AsyncIterator[None]:
    ready = asyncio.Event()
    task = asyncio.create_task(app[BREAKER_SYNC].run(ready))
    await asyncio.wait_for(ready.wait(), timeout=10)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _tokenizer(app: web.Application) -> AsyncIterator[None]:
    app[TOKENS].tokenizer = await asyncio.to_thread(load_tokenizer)
    yield


async def _alerts(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[ALERTS].run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _usage_writer(app: web.Application) -> AsyncIterator[None]:
    writer = app[USAGE_WRITER]
    task = asyncio.create_task(writer.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await writer.close()  # after the server drained: every request's record is queued


async def _key_use_writer(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[KEY_USE].run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[KEY_USE].flush()  # the last batch, so no use is lost on shutdown


def _redis(app: web.Application, config: GatewayConfig) -> aioredis.Redis | None:
    """One client for limits and cache, closed with the app; None without `redis.url`."""
    if config.redis.url is None:
        return None
    # A blocking pool: a burst waits briefly for a connection instead of failing over.
    connections = aioredis.BlockingConnectionPool.from_url(
        config.redis.url.get_secret_value(),
        max_connections=64,
        timeout=2.0,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
    )
    client = aioredis.Redis(connection_pool=connections)

    async def close_redis(app: web.Application) -> AsyncIterator[None]:
        yield
        await client.aclose()
        await connections.aclose()  # a pool passed in is not closed by its client

    app.cleanup_ctx.append(close_redis)
    return client
