"""Stage 5, metering: passes on, and whatever happens below records exactly one usage
record per client request: success, upstream error, cache hit, a stream cut by the client,
or a cancelled handler. Tokens come from the provider; when it gave none they are counted
(tokenizer, or estimate) and the record says which. Cost uses the routing file's prices,
in exact decimals.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX, RequestContext
from gateway.errors import GatewayError
from gateway.metering.cost import NO_COST, cost_usd
from gateway.metering.record import UsageRecord
from gateway.metering.tokens import TokenCounter, prompt_text
from gateway.metering.writer import UsageWriter

CLIENT_CLOSED = 499


def make_middleware(writer: UsageWriter, counter: TokenCounter) -> Middleware:
    @web.middleware
    async def metering(request: web.Request, handler: Handler) -> web.StreamResponse:
        ctx = request[CTX]
        if ctx.operation is None:
            return await handler(request)
        arrived = time.time()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except GatewayError as exc:
            status = exc.status
            raise
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            record = ctx.usage_record = usage_record(ctx, arrived, status, counter)
            writer.submit(record)

    return metering


def usage_record(
    ctx: RequestContext, arrived: float, status: int, counter: TokenCounter
) -> UsageRecord:
    if ctx.client_disconnected:
        status = CLIENT_CLOSED
    elif ctx.error is not None and status < 400:
        status = ctx.error.status  # a stream that failed after it started
    key = ctx.principal.key if ctx.principal else None
    deployment = ctx.deployment
    cache_hit = ctx.cache_status == "hit"
    prompt, completion, cached, source = _tokens(ctx, counter)
    cost = (
        cost_usd(deployment.price, prompt, completion, cached)
        if deployment is not None and not cache_hit
        else NO_COST
    )
    first_byte = ctx.first_byte_seconds
    # Every field, in the order UsageRecord declares them: passed by name, this many would
    # be gathered into a dict first, which makes the call three times as slow.
    return UsageRecord(
        ctx.request_id,
        arrived,
        key.tenant_id if key else None,
        key.key_id if key else None,
        key.user_id if key else None,
        ctx.payload.get("model") if ctx.payload else None,
        ctx.model,
        deployment.provider if deployment else None,
        deployment.id if deployment else None,
        ctx.variant,
        prompt,
        completion,
        cached,
        source,
        cost,
        first_byte * 1000 if first_byte is not None else None,
        (time.perf_counter() - ctx.started) * 1000,
        status,
        cache_hit,
        ctx.attempts,
        dict(key.tags) if key else {},
    )


def _tokens(ctx: RequestContext, counter: TokenCounter) -> tuple[int, int, int, str]:
    """Prompt, completion and cached prompt tokens, and where the numbers come from."""
    usage = ctx.usage
    if usage:
        details = usage.get("prompt_tokens_details")
        return (
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            int(details.get("cached_tokens") or 0) if details else 0,
            "provider",
        )
    if ctx.deployment is None or ctx.payload is None:
        return 0, 0, 0, "none"  # never reached a provider: nothing was consumed
    return (
        counter.count(prompt_text(ctx.payload)),
        counter.count(ctx.streamed_text),
        0,
        counter.source,
    )
