"""Stage 8, cache: short-circuits with a stored response, or passes on and stores the answer.

Sits after routing, so the key names the resolved model group and a hit can never skip the
model permission check or a tenant's region pins. Entries are per tenant. A stored answer is
served to plain and streaming requests alike (replayed with OpenAI's stream framing). A
failing cache backend never fails a request: it is counted, logged, and bypassed.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway import sse
from gateway.adapters.base import Json
from gateway.cache.backend import CacheBackendError, ResponseCache
from gateway.cache.keys import cache_key, deterministic
from gateway.cache.replay import stream_chunks
from gateway.context import CTX
from gateway.metrics import Metrics
from gateway.proxy import start_stream

logger = logging.getLogger(__name__)
CACHE_ERRORS = (CacheBackendError, OSError, TimeoutError)


def make_middleware(store: ResponseCache, metrics: Metrics) -> Middleware:
    async def read(key: str) -> bytes | None:
        try:
            return await store.get(key)
        except CACHE_ERRORS as exc:
            _failed(metrics, "get", exc)
            return None

    async def write(key: str, value: bytes, ttl: float) -> None:
        try:
            await store.set(key, value, ttl)
        except CACHE_ERRORS as exc:
            _failed(metrics, "set", exc)

    @web.middleware
    async def cache(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        operation = ctx.operation
        if ctx.plan is None or ctx.payload is None or operation is None:
            return await handler(request)
        group = ctx.plan.groups[0]
        policy = group.cache or ctx.plan.router.cache
        payload = ctx.payload
        directive = _directive(request) if policy.enabled else "bypass"
        if directive == "bypass" or (policy.deterministic_only and not deterministic(payload)):
            ctx.cache_status = "bypass"
            return await handler(request)
        tenant = ctx.principal.key.tenant_id if ctx.principal and ctx.principal.key else "-"
        key = cache_key(tenant, group.name, operation, payload)
        if directive == "use" and (stored := await read(key)) is not None:
            ctx.cache_status = "hit"
            return await _replay(request, stored, payload)
        ctx.cache_status = "miss"
        ctx.collect_response = True
        response = await handler(request)
        if ctx.completed is not None and ctx.error is None:
            await write(key, ctx.completed, policy.ttl_seconds)
        return response

    return cache


def _directive(request: web.Request) -> str:
    """`use`, `refresh` (skip reading, store the new answer) or `bypass` (neither)."""
    tokens = {t.strip().lower() for t in request.headers.get("Cache-Control", "").split(",")}
    ours = request.headers.get("x-model-bridge-cache", "").lower()
    if "no-store" in tokens or ours == "bypass":
        return "bypass"
    if "no-cache" in tokens or ours == "refresh":
        return "refresh"
    return "use"


async def _replay(request: web.Request, raw: bytes, payload: Json) -> web.StreamResponse:
    ctx = request[CTX]
    stored = orjson.loads(raw)
    ctx.usage = stored.get("usage")
    if not payload.get("stream") or stored.get("object") == "list":
        return web.Response(body=raw, content_type="application/json")  # as stored
    include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
    response = await start_stream(request)
    body = b"".join(sse.encode(c) for c in stream_chunks(stored, include_usage))
    await response.write_eof(body + sse.DONE)
    return response


def _failed(metrics: Metrics, operation: str, exc: BaseException) -> None:
    metrics.cache_errors.labels(operation).inc()
    logger.warning(
        "response cache %s failed (%s); serving without it", operation, type(exc).__name__
    )
