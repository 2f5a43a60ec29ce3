"""Stage 2, request id: passes on.

Takes a valid incoming `x-request-id` or makes one, creates the request's `RequestContext`,
and sets the logging contextvar. `stamp_response` runs as every response's headers are
about to go out (errors, streams and aiohttp's own responses included) and adds the id and
the gateway's overhead, so no code path can forget them.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.appkeys import METRICS
from gateway.context import CTX, REQUEST_ID, RequestContext

_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def make_middleware() -> Middleware:
    @web.middleware
    async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get("x-request-id")
        rid = incoming if incoming and _VALID_ID.fullmatch(incoming) else new_request_id()
        request[CTX] = RequestContext(request_id=rid)
        token = REQUEST_ID.set(rid)
        try:
            return await handler(request)
        finally:
            REQUEST_ID.reset(token)

    return request_id


async def stamp_response(request: web.Request, response: web.StreamResponse) -> None:
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
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    metrics = request.config_dict[METRICS]
    metrics.requests.labels(name, ctx.model or "", str(response.status)).inc()
    metrics.overhead.labels(name).observe(overhead)
