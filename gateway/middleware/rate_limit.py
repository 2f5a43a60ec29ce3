"""Stage 4, rate limits: passes on, or raises 429 (`rate_limit_exceeded`, or
`insufficient_quota` for budgets and plan quotas, as OpenAI does).

Before the call, one check-and-charge of every bucket that applies, all or nothing: a
request, the estimated tokens (prompt plus the output it may produce) and the estimated
cost. After it, the estimate is replaced by the real usage and the concurrency slot freed.
So concurrent requests can overshoot a budget by at most what was admitted while it still
had room, each bounded by its own estimate.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.adapters.base import Json
from gateway.config import LimitsConfig, PlanConfig
from gateway.context import CTX, Principal
from gateway.errors import GatewayError, RateLimited
from gateway.limits.alerts import AlertDispatcher, crossed, warning_header
from gateway.limits.buckets import Decision, Family, Limiter
from gateway.limits.plan import buckets_for
from gateway.metering.cost import cost_usd
from gateway.metering.tokens import estimate, prompt_text
from gateway.metrics import Metrics
from gateway.payload import MODES, operation_of, read_payload
from gateway.routing.planner import reachable
from gateway.routing.table import RoutingHolder


def make_middleware(
    limiter: Limiter,
    config: LimitsConfig,
    plans: dict[str, PlanConfig],
    holder: RoutingHolder,
    metrics: Metrics,
    alerter: AlertDispatcher,
) -> Middleware:
    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        key = ctx.principal.key if ctx.principal else None
        operation = operation_of(request)
        if operation is None or key is None:
            return await handler(request)  # the master key is not limited
        payload = await read_payload(request, operation)
        prompt = estimate(prompt_text(payload))
        output = payload.get("max_completion_tokens") or payload.get("max_tokens")
        output = output if isinstance(output, int) else config.default_max_tokens
        if operation == "embeddings":
            output = 0
        cost = _estimated_cost(holder, payload, MODES[operation], ctx.principal, prompt, output)
        buckets = buckets_for(key, plans.get(key.plan), prompt + output, cost)
        if not buckets:
            return await handler(request)
        decision = await limiter.acquire(buckets, ctx.request_id)
        if not decision.admitted:
            raise _refusal(decision, metrics)
        ctx.rate_limits = decision
        alerts = [a for c in decision.charges for a in crossed(c, key.tenant_id)]
        if alerts:
            alerter.submit(alerts)
            ctx.limit_warning = warning_header(alerts)
        try:
            return await handler(request)
        finally:
            record = ctx.usage_record
            actual: dict[Family, float] = {"tokens": 0.0, "budget": 0.0}
            if record is not None:
                actual = {
                    "tokens": float(record.prompt_tokens + record.completion_tokens),
                    "budget": float(record.cost_usd),
                }
            await limiter.settle(decision.charges, actual, ctx.request_id)

    return rate_limit


def _estimated_cost(
    holder: RoutingHolder,
    payload: Json,
    mode: str,
    principal: Principal | None,
    prompt: int,
    output: int,
) -> Decimal:
    """The dearest deployment the request may reach (by an alias, a policy alias, an A/B
    split): a reservation must not be short. An unknown model costs nothing; routing
    refuses it."""
    model = payload.get("model")
    groups = reachable(holder.table, model, mode, principal) if isinstance(model, str) else []
    prices = [cost_usd(d.price, prompt, output) for g in groups for d in g.deployments]
    return max(prices, default=Decimal(0))


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
    headers = {}
    for family, suffix in (("requests", "requests"), ("tokens", "tokens")):
        charges = [
            c for c in decision.charges if c.bucket.family == family and c.bucket.period == "minute"
        ]
        if charges:
            tightest = min(charges, key=lambda c: c.remaining)
            headers[f"x-ratelimit-limit-{suffix}"] = f"{tightest.bucket.limit:g}"
            headers[f"x-ratelimit-remaining-{suffix}"] = f"{max(0.0, tightest.remaining):g}"
            headers[f"x-ratelimit-reset-{suffix}"] = f"{tightest.reset_seconds:.0f}s"
    return headers
