"""The chain. Its order is declared once, here, read top (outermost) to bottom."""

from __future__ import annotations

from aiohttp.typedefs import Middleware

from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.cache.backend import ResponseCache
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics
from gateway.middleware import auth, cache, errors, failover, metering, request_id, routing
from gateway.routing.health import HealthBoard
from gateway.routing.table import RoutingHolder


def chain(
    master_key: str,
    keys: KeyCache[KeyInfo],
    key_use: KeyUseRecorder,
    routing_holder: RoutingHolder,
    board: HealthBoard,
    response_cache: ResponseCache,
    metrics: Metrics,
    usage_writer: UsageWriter,
) -> tuple[Middleware, ...]:
    return (
        # Outermost, so that every failure below, including a bug, is rendered the one way.
        errors.make_middleware(),
        # Before anything that logs or fails, so that every log line and error has the id.
        request_id.make_middleware(),
        # Before any work is spent on the request, and before anything reads the body.
        auth.make_middleware(master_key, keys, key_use),
        # Wraps everything that can consume tokens, so each request yields one record.
        metering.make_middleware(usage_writer),
        # Needs the caller (allowed models, pinned tags); yields the plan failover walks.
        routing.make_middleware(routing_holder, board),
        # After routing: the key names the resolved group, and a hit never skips the model
        # permission check or region pins. Before failover: a hit costs no attempt.
        cache.make_middleware(response_cache, metrics),
        # Innermost: each attempt re-enters only the proxy, never the stages above.
        failover.make_middleware(board),
    )
