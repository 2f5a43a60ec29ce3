"""Per-request state: one `RequestContext` under one request key, and the log contextvar."""

from __future__ import annotations

import contextvars
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from aiohttp import web

from gateway.adapters.base import Operation
from gateway.auth.key_info import KeyInfo
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.limits.buckets import Decision
    from gateway.metering.record import UsageRecord
    from gateway.routing.planner import Plan
    from gateway.routing.table import Deployment

# Read by the logging filter so every record made while serving a request carries its id.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Principal(NamedTuple):
    """Who is calling: the master key (the platform administrator) or a tenant's key. One
    per request with a tenant's key: a named tuple costs a fraction of a frozen dataclass."""

    kind: Literal["master", "key"]
    key: KeyInfo | None = None

    def may_use(self, model: str) -> bool:
        return self.key is None or self.key.may_use(model)


@dataclass(slots=True)
class RequestContext:
    request_id: str
    # The proxied operation (chat, completions, embeddings); None for every other route.
    operation: Operation | None = None
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    payload: dict[str, Any] | None = None
    model: str | None = None
    plan: Plan | None = None
    deployment: Deployment | None = None
    attempts: int = 0
    # time.monotonic() by which the request must be answered (the router's deadline), set
    # by failover; every attempt's upstream call is bounded by it.
    deadline: float = math.inf
    variant: str | None = None
    cache_status: str | None = None  # hit | miss | bypass
    upstream_seconds: float = 0.0
    first_byte_seconds: float | None = None
    usage: dict[str, Any] | None = None
    streamed_text: str = ""  # only when the provider reported no usage
    collect_response: bool = False  # the cache wants the whole answer, even of a stream
    completed: bytes | None = None  # the whole answer, serialised, for the cache
    rate_limits: Decision | None = None
    limit_warning: str | None = None  # a budget or quota just passed 50/80/100 %
    usage_record: UsageRecord | None = None
    error: GatewayError | None = None
    client_disconnected: bool = False

    def overhead_seconds(self) -> float:
        return max(0.0, time.perf_counter() - self.started - self.upstream_seconds)


CTX = web.RequestKey("model_bridge_context", RequestContext)
