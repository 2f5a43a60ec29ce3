"""Stage 2, request id: passes on.

Takes a valid incoming `x-request-id` or makes one, creates the request's `RequestContext`,
and sets the logging contextvar. `make_stamp`'s hook runs as every response's headers are
about to go out (errors, streams and aiohttp's own responses included) and adds the id and
the gateway's overhead, so no code path can forget them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX, REQUEST_ID, RequestContext
from gateway.metrics import Metrics
from gateway.middleware.rate_limit import limit_headers
from gateway.payload import operation_of

_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    # Unique, not secret: ids are shown to clients and logged, never used as credentials,
    # so the cheap non-cryptographic generator is the right one on the hot path.
    return f"req_{random.getrandbits(96):024x}"


def make_middleware() -> Middleware:
    @web.middleware
    async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get("x-request-id")
        rid = incoming if incoming and _VALID_ID.fullmatch(incoming) else new_request_id()
        request[CTX] = RequestContext(rid, operation_of(request))  # positional: no kwargs dict
        token = REQUEST_ID.set(rid)
        try:
            return await handler(request)
        finally:
            REQUEST_ID.reset(token)

    return request_id


def make_stamp(metrics: Metrics) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The `on_response_prepare` hook: headers every response carries, and its metrics."""

    async def stamp(request: web.Request, response: web.StreamResponse) -> None:
        ctx = request.get(CTX)
        if ctx is None:  # failed before the chain ran (e.g. an unparsable HTTP request)
            response.headers["x-request-id"] = new_request_id()
            return
        overhead = ctx.overhead_seconds()
        headers = response.headers
        headers["x-request-id"] = ctx.request_id
        headers["x-model-bridge-overhead-ms"] = f"{overhead * 1000:.2f}"
        if ctx.deployment is not None:
            headers["x-model-bridge-deployment"] = ctx.deployment.id
            headers["x-model-bridge-attempts"] = str(ctx.attempts)
        if ctx.cache_status is not None:
            headers["x-model-bridge-cache"] = ctx.cache_status
        if ctx.variant is not None:
            headers["x-model-bridge-variant"] = ctx.variant
        if ctx.rate_limits is not None:
            headers.update(limit_headers(ctx.rate_limits))
        if ctx.limit_warning is not None:
            headers["x-model-bridge-limit-warning"] = ctx.limit_warning
        route = request.match_info.route.resource
        metrics.observe_response(
            route.canonical if route is not None else "unmatched",
            ctx.model or "",
            response.status,
            overhead,
        )

    return stamp
