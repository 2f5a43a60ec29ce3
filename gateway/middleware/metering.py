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
from gateway.metering.cost import cost_usd
from gateway.metering.record import UsageRecord
from gateway.metering.tokens import TokenCounter, prompt_text
from gateway.metering.writer import UsageWriter
from gateway.payload import operation_of

CLIENT_CLOSED = 499


def make_middleware(writer: UsageWriter, counter: TokenCounter) -> Middleware:
    @web.middleware
    async def metering(request: web.Request, handler: Handler) -> web.StreamResponse:
        if operation_of(request) is None:
            return await handler(request)
        ctx = request[CTX]
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
            ctx.usage_record = usage_record(ctx, arrived, status, counter)
            writer.submit(ctx.usage_record)

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
    record = UsageRecord(
        request_id=ctx.request_id,
        at=arrived,
        tenant_id=key.tenant_id if key else None,
        key_id=key.key_id if key else None,
        user_id=key.user_id if key else None,
        requested_model=(ctx.payload or {}).get("model") if ctx.payload else None,
        model=ctx.model,
        provider=deployment.provider if deployment else None,
        deployment=deployment.id if deployment else None,
        variant=ctx.variant,
        latency_ms=(time.perf_counter() - ctx.started) * 1000,
        ttfb_ms=ctx.first_byte_seconds * 1000 if ctx.first_byte_seconds is not None else None,
        status=status,
        cache_hit=ctx.cache_status == "hit",
        attempts=ctx.attempts,
        tags=dict(key.tags) if key else {},
    )
    _count(record, ctx, counter)
    if deployment is not None and not record.cache_hit:
        record.cost_usd = cost_usd(
            deployment.price,
            record.prompt_tokens,
            record.completion_tokens,
            record.cached_tokens,
        )
    return record


def _count(record: UsageRecord, ctx: RequestContext, counter: TokenCounter) -> None:
    usage = ctx.usage
    if usage:
        record.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        record.completion_tokens = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        record.cached_tokens = int(details.get("cached_tokens") or 0)
        return
    if ctx.deployment is None or ctx.payload is None:
        record.token_source = "none"  # never reached a provider: nothing was consumed
        return
    record.token_source = counter.source
    record.prompt_tokens = counter.count(prompt_text(ctx.payload))
    record.completion_tokens = counter.count(ctx.streamed_text)
