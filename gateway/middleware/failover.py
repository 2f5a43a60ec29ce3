"""Stage 8, failover: passes on, once per attempt, or raises the last upstream error.

Walks the plan: each deployment of the group in the strategy's order (open breakers
skipped), retrying retryable failures with exponential backoff and jitter (honouring the
provider's Retry-After, capped) while the deployment's breaker stays closed, then the
fallback groups, all within one deadline that also bounds each attempt (sooner where the
model sets `timeout_seconds`). A client error from upstream (400/401/403/404) is never
retried; a context-window overflow moves to the context-window fallbacks. A stream that has
started is never retried: the proxy then reports the failure in the stream and returns
normally.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX, RequestContext
from gateway.errors import (
    CONTEXT_LENGTH_EXCEEDED,
    GatewayError,
    InvalidRequest,
    UpstreamError,
    UpstreamTimeout,
)
from gateway.routing.health import HealthBoard
from gateway.routing.planner import Plan, describe_pins
from gateway.routing.strategies import STRATEGIES
from gateway.routing.table import Deployment, ModelGroup
from gateway.upstream import CALL_DEADLINE

# Refusals that say something about the deployment, not the request: its key, its access,
# its quota.
_DEPLOYMENT_FAULTS = frozenset({401, 403, 429})


def make_middleware(board: HealthBoard) -> Middleware:
    @web.middleware
    async def failover(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        plan = ctx.plan
        if plan is None:
            return await handler(request)
        ctx.deadline = time.monotonic() + plan.router.deadline_seconds
        queue = list(plan.groups)
        context_fallbacks = plan.context_fallbacks
        last_error: UpstreamError | None = None
        while queue:
            group = queue.pop(0)
            for deployment in _candidates(group, plan.pins, board):
                outcome = await _retrying(request, handler, ctx, deployment, group, plan, board)
                if isinstance(outcome, web.StreamResponse):
                    return outcome
                last_error = outcome or last_error or _deadline_error(group)
                if outcome is None:
                    raise last_error  # out of time
                if outcome.code == CONTEXT_LENGTH_EXCEEDED and context_fallbacks:
                    queue, context_fallbacks = list(context_fallbacks), ()
                    break
                if not outcome.retryable:
                    raise outcome
        if last_error is None:
            raise InvalidRequest(
                f"No deployment of `{ctx.model}` is allowed for this tenant "
                f"(pinned to {describe_pins(plan.pins)}).",
                param="model",
                code="no_deployment_in_region",
            )
        raise last_error

    return failover


async def _retrying(
    request: web.Request,
    handler: Handler,
    ctx: RequestContext,
    deployment: Deployment,
    group: ModelGroup,
    plan: Plan,
    board: HealthBoard,
) -> web.StreamResponse | UpstreamError | None:
    """The response, or the last error after the group's retries; None when out of time."""
    time_limit = group.config.timeout_seconds
    error: UpstreamError | None = None
    for attempt in range(group.config.retries + 1):
        if error is not None:
            # A retry only while the breaker lets requests through: this request's failures
            # or others' may open it, before the backoff or during it.
            if not board.available(deployment.id, time.monotonic()):
                break
            await asyncio.sleep(_backoff(attempt - 1, error, plan, ctx.deadline))
            if not board.available(deployment.id, time.monotonic()):
                break
        if time.monotonic() >= ctx.deadline:
            return error
        try:
            return await _attempt(request, handler, ctx, deployment, time_limit, board)
        except UpstreamError as exc:
            error = exc
        if not error.retryable:
            break
    return error


async def _attempt(
    request: web.Request,
    handler: Handler,
    ctx: RequestContext,
    deployment: Deployment,
    time_limit: float | None,
    board: HealthBoard,
) -> web.StreamResponse:
    ctx.deployment, ctx.error, ctx.first_byte_seconds = deployment, None, None
    ctx.attempts += 1
    now = time.monotonic()
    token = CALL_DEADLINE.set(
        ctx.deadline if time_limit is None else min(ctx.deadline, now + time_limit)
    )
    board.started(deployment.id, now)
    ok: bool | None = False
    try:
        response = await handler(request)
        ok = ctx.error is None  # a stream that failed after its first byte still returns
        return response
    except GatewayError as exc:
        ok = None if _callers_fault(exc) else False
        raise
    finally:
        CALL_DEADLINE.reset(token)
        tokens = ctx.usage.get("total_tokens", 0) if ok and ctx.usage else 0
        board.finished(deployment.id, ok, time.monotonic(), ctx.first_byte_seconds, tokens)


def _callers_fault(error: GatewayError) -> bool:
    """A refusal of this request as sent (400, 404, 422 …), which another request to the same
    deployment would not meet: no evidence about the deployment's health."""
    retryable = isinstance(error, UpstreamError) and error.retryable
    return error.status < 500 and error.status not in _DEPLOYMENT_FAULTS and not retryable


def _candidates(
    group: ModelGroup, pins: Mapping[str, str], board: HealthBoard
) -> Sequence[Deployment]:
    now = time.monotonic()
    pinned = [d for d in group.deployments if d.matches(pins)] if pins else group.deployments
    # One deployment has no order to choose.
    ordered = STRATEGIES[group.config.strategy](pinned, board, now) if len(pinned) > 1 else pinned
    available = [d for d in ordered if board.available(d.id, now)]
    if available or not ordered:
        return available
    # Every breaker is open: rather than a hard outage, probe the one that opened first (its
    # success closes it; its failure reopens it, so the next such request probes another).
    oldest = min(ordered, key=lambda d: board.get(d.id).opened_at)
    board.probe_early(oldest.id)
    return [oldest]


def _backoff(attempt: int, error: UpstreamError, plan: Plan, deadline: float) -> float:
    router = plan.router
    delay = min(router.backoff_max_seconds, router.backoff_base_seconds * 2**attempt)
    delay *= random.uniform(0.5, 1.0)  # jitter, so retries from many clients spread out
    if error.retry_after is not None:
        delay = max(delay, min(error.retry_after, router.retry_after_cap_seconds))
    return float(max(0.0, min(delay, deadline - time.monotonic())))


def _deadline_error(group: ModelGroup) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"no deployment of `{group.name}` answered within the deadline",
        provider="",
        retryable=False,
    )
