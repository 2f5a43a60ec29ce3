"""The chain. Its order is declared once, here, read top (outermost) to bottom."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.typedefs import Middleware

from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.cache.backend import ResponseCache
from gateway.config import GatewayConfig
from gateway.limits.alerts import AlertDispatcher
from gateway.limits.buckets import Limiter
from gateway.metering.tokens import TokenCounter
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics
from gateway.middleware import (
    auth,
    cache,
    errors,
    failover,
    metering,
    rate_limit,
    request_id,
    routing,
)
from gateway.routing.health import HealthBoard
from gateway.routing.table import RoutingHolder


@dataclass(frozen=True, slots=True)
class ChainDeps:
    """What the stages need, built once by `create_app`."""

    config: GatewayConfig
    master_key: str
    keys: KeyCache[KeyInfo]
    key_use: KeyUseRecorder
    limiter: Limiter
    alerts: AlertDispatcher
    usage_writer: UsageWriter
    tokens: TokenCounter
    routing: RoutingHolder
    health: HealthBoard
    response_cache: ResponseCache
    metrics: Metrics


def chain(deps: ChainDeps) -> tuple[Middleware, ...]:
    return (
        # Outermost, so that every failure below, including a bug, is rendered the one way.
        errors.make_middleware(),
        # Before anything that logs or fails, so that every log line and error has the id.
        request_id.make_middleware(),
        # Before any work is spent on the request, and before anything reads the body.
        auth.make_middleware(deps.master_key, deps.keys, deps.key_use),
        # Needs the caller (its limits and its tenant's); before any tokens are spent. Around
        # metering, so it can settle the charge with the usage metering recorded.
        rate_limit.make_middleware(
            deps.limiter,
            deps.config.limits,
            deps.config.plans,
            deps.routing,
            deps.metrics,
            deps.alerts,
        ),
        # Wraps everything that can consume tokens, so each request yields one record.
        metering.make_middleware(deps.usage_writer, deps.tokens),
        # Needs the caller (allowed models, pinned tags); yields the plan failover walks.
        routing.make_middleware(deps.routing, deps.health),
        # After routing: the key names the resolved group, and a hit never skips the model
        # permission check or region pins. Before failover: a hit costs no attempt.
        cache.make_middleware(deps.response_cache, deps.metrics),
        # Innermost: each attempt re-enters only the proxy, never the stages above.
        failover.make_middleware(deps.health),
    )
