"""Stage 4, rate limits: passes on, or raises 429 (`rate_limit_exceeded`, or
`insufficient_quota` for budgets and plan quotas, as OpenAI does).

Before the call, one check-and-charge of every bucket that applies, all or nothing: a
request, the estimated tokens (prompt plus the output it may produce) and the estimated
cost. After it, the estimate is replaced by the real usage and the concurrency slot freed.
So concurrent requests can overshoot a budget by at most what was admitted while it still
had room, each bounded by its own estimate.
"""

from __future__ import annotations

from types import MappingProxyType

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.config import LimitsConfig, PlanConfig
from gateway.context import CTX
from gateway.errors import GatewayError, RateLimited
from gateway.limits.alerts import AlertDispatcher, crossed, warning_header
from gateway.limits.buckets import Amounts, Charge, Decision, Limiter
from gateway.limits.plan import LimitsByKey
from gateway.limits.reservation import Reservations
from gateway.metering.record import UsageRecord
from gateway.metrics import Metrics
from gateway.payload import read_payload
from gateway.routing.table import RoutingHolder

_NOTHING_USED: Amounts = MappingProxyType({"tokens": 0.0, "budget": 0.0})
_HEADER_FAMILIES = ("requests", "tokens")  # OpenAI's x-ratelimit-*-requests and -tokens


def make_middleware(
    limiter: Limiter,
    config: LimitsConfig,
    plans: dict[str, PlanConfig],
    holder: RoutingHolder,
    metrics: Metrics,
    alerter: AlertDispatcher,
) -> Middleware:
    limits_by_key = LimitsByKey(plans)
    reservations = Reservations(holder, config.default_max_tokens)

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        principal, operation = ctx.principal, ctx.operation
        if operation is None or principal is None or principal.key is None:
            return await handler(request)  # the master key is not limited
        key = principal.key
        payload = await read_payload(request, operation)
        limits = limits_by_key.get(key)
        if not limits.buckets:
            return await handler(request)
        amounts = reservations.amounts(limits, payload, operation, principal)
        decision = await limiter.acquire(limits.buckets, amounts, ctx.request_id)
        if not decision.admitted:
            raise _refusal(decision, metrics)
        ctx.rate_limits = decision
        alerts = crossed(decision.charges, key.tenant_id)
        if alerts:
            alerter.submit(alerts)
            ctx.limit_warning = warning_header(alerts)
        try:
            return await handler(request)
        finally:
            await limiter.settle(decision.charges, _used(ctx.usage_record), ctx.request_id)

    return rate_limit


def _used(record: UsageRecord | None) -> Amounts:
    """What the request really consumed; nothing if it recorded no usage."""
    if record is None:
        return _NOTHING_USED
    return {
        "tokens": float(record.prompt_tokens + record.completion_tokens),
        "budget": float(record.cost_usd),
    }


def _refusal(decision: Decision, metrics: Metrics) -> GatewayError:
    bucket = decision.refused
    assert bucket is not None
    metrics.child(metrics.rate_limited, bucket.family).inc()
    retry = max(1, int(decision.retry_after + 0.999))
    headers = {"Retry-After": str(retry)}
    limit = f"{bucket.limit:g}" if bucket.family != "budget" else f"${bucket.limit:g}"
    if bucket.family == "budget" or bucket.period == "month":
        return RateLimited(
            f"You exceeded the {bucket.label} ({limit}). It resets in {retry}s.",
            code="insufficient_quota",
            type="insufficient_quota",
            headers=headers,
        )
    return RateLimited(
        f"Rate limit reached for {bucket.label}: limit {limit}. Retry after {retry}s.",
        headers=headers,
    )


def limit_headers(decision: Decision) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers from the tightest per-minute request and token buckets."""
    tightest: dict[str, Charge] = {}
    for charge in decision.charges:
        bucket = charge.bucket
        if bucket.period == "minute" and bucket.family in _HEADER_FAMILIES:
            known = tightest.get(bucket.family)
            if known is None or charge.remaining < known.remaining:  # the first of equals
                tightest[bucket.family] = charge
    headers: dict[str, str] = {}
    if not tightest:
        return headers  # no per-minute limits: OpenAI's headers have nothing to show
    for family in _HEADER_FAMILIES:
        best = tightest.get(family)
        if best is not None:
            headers[f"x-ratelimit-limit-{family}"] = f"{best.bucket.limit:g}"
            headers[f"x-ratelimit-remaining-{family}"] = f"{max(0.0, best.remaining):g}"
            headers[f"x-ratelimit-reset-{family}"] = f"{best.reset_seconds:.0f}s"
    return headers
