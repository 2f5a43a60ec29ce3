"""The proxy handler: the bottom of the chain, where a request meets a provider.

It resolves the model, lets the deployment's adapter translate, sends through the provider's
transport, and relays the answer: whole, or event by event as it arrives, never buffered.
A stream's response is started only when the first upstream chunk is in hand, so until then
a failure is still an ordinary error response; after it, a failure becomes an SSE error event
and the stream ends.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from gateway import sse
from gateway.adapters.base import Json, Operation
from gateway.cache.replay import StreamAssembler
from gateway.context import CTX, RequestContext
from gateway.errors import (
    InvalidRequest,
    UpstreamError,
    UpstreamProtocolError,
    error_body_bytes,
)
from gateway.metrics import Metrics
from gateway.payload import read_payload
from gateway.routing.table import Deployment
from gateway.transports import TransportPool
from gateway.upstream import UpstreamCall

_STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def handler(
    operation: Operation, transports: TransportPool, metrics: Metrics
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def proxy(request: web.Request) -> web.StreamResponse:
        ctx = request[CTX]
        payload = await read_payload(request, operation)
        deployment = ctx.deployment  # chosen by the failover stage for this attempt
        assert deployment is not None, "the chain routes before the proxy runs"
        if operation not in deployment.adapter.operations:
            raise InvalidRequest(f"The model `{ctx.model}` does not support this endpoint.")
        upstream_request = deployment.adapter.to_upstream_request(
            operation, payload, deployment.target
        )
        transport = transports[deployment.provider]
        started = time.perf_counter()
        try:
            call = await transport.open(upstream_request)
        finally:
            ctx.upstream_seconds += time.perf_counter() - started
        try:
            if call.status >= 400:
                raise await _upstream_failure(call, deployment)
            if upstream_request.stream:
                return await _relay_stream(
                    request, ctx, call, deployment, operation, payload, metrics, started
                )
            return await _relay_whole(ctx, call, deployment, operation, metrics, started)
        finally:
            call.release()

    proxy.__name__ = f"proxy_{operation}"
    return proxy


async def _relay_whole(
    ctx: RequestContext,
    call: UpstreamCall,
    deployment: Deployment,
    operation: Operation,
    metrics: Metrics,
    started: float,
) -> web.Response:
    before = time.perf_counter()
    body = await call.read()
    now = time.perf_counter()
    ctx.upstream_seconds += now - before
    ctx.first_byte_seconds = now - started
    metrics.upstream_latency.observe((deployment.provider, deployment.public_model), now - started)
    answer = deployment.adapter.from_upstream_response(operation, body, deployment.target)
    ctx.usage = answer.usage
    if ctx.collect_response:
        ctx.completed = answer.body
    _count_tokens(metrics, deployment, ctx.usage)
    return web.Response(body=answer.body, content_type="application/json")


async def _relay_stream(
    request: web.Request,
    ctx: RequestContext,
    call: UpstreamCall,
    deployment: Deployment,
    operation: Operation,
    payload: Json,
    metrics: Metrics,
    started: float,
) -> web.StreamResponse:
    translator = deployment.adapter.stream_translator(operation, payload, deployment.target)
    parser = sse.SSEParser()
    assembler = StreamAssembler() if ctx.collect_response else None
    response: web.StreamResponse | None = None
    waited_since = time.perf_counter()
    labels = (deployment.provider, deployment.public_model)
    try:
        try:
            async for raw in call.chunks():
                chunks = translator.feed(parser.feed(raw))
                if not chunks:
                    continue
                if assembler is not None:
                    for chunk in chunks:
                        assembler.add(orjson.loads(chunk))
                if response is None:
                    ctx.upstream_seconds += time.perf_counter() - waited_since
                    ctx.first_byte_seconds = time.perf_counter() - started
                    metrics.time_to_first_token.observe(labels, ctx.first_byte_seconds)
                    response = await start_stream(request)
                await response.write(sse.frame(chunks))
            if not translator.finished:
                raise UpstreamProtocolError(
                    f"upstream provider {deployment.provider!r} ended the stream early",
                    provider=deployment.provider,
                    retryable=True,
                )
        except UpstreamError as exc:
            if response is None:
                raise
            ctx.error = exc
            await response.write(b"data: " + error_body_bytes(exc) + b"\n\n")
            return response
        if response is None:
            response = await start_stream(request)
        tail = translator.close()
        if assembler is not None:
            assembler.usage = translator.usage
            ctx.completed = orjson.dumps(assembler.result())
        await response.write_eof(sse.frame(tail) + sse.DONE)
    except ConnectionResetError:
        # The client went away mid-stream: not an error of ours; stop reading upstream.
        ctx.client_disconnected = True
    metrics.upstream_latency.observe(labels, time.perf_counter() - started)
    ctx.usage = translator.usage
    if ctx.usage is None:
        ctx.streamed_text = "".join(translator.text_parts)
    _count_tokens(metrics, deployment, ctx.usage)
    return response if response is not None else web.Response(status=499)


class _EventStream(web.StreamResponse):
    # Hold the headers back until the first event, so both leave in one write: a stream is
    # only started once its first event is in hand, so this delays nothing.
    _send_headers_immediately = False


async def start_stream(request: web.Request) -> web.StreamResponse:
    response = _EventStream(status=200, headers=_STREAM_HEADERS)
    await response.prepare(request)
    return response


async def _upstream_failure(call: UpstreamCall, deployment: Deployment) -> UpstreamError:
    body = await call.read()
    error = deployment.adapter.classify_error(call.status, body, deployment.target)
    retry_after = call.headers.get("Retry-After")
    if retry_after and error.status in (429, 503):
        error.headers = {"Retry-After": retry_after}
        error.retry_after = _seconds(retry_after)
    return error


def _seconds(retry_after: str) -> float | None:
    """Retry-After as delta-seconds; the HTTP-date form is rare from APIs and is ignored."""
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        return None


def _count_tokens(metrics: Metrics, deployment: Deployment, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and prompt > 0:
        metrics.tokens.inc((deployment.public_model, "input"), prompt)
    if isinstance(completion, int) and completion > 0:
        metrics.tokens.inc((deployment.public_model, "output"), completion)
