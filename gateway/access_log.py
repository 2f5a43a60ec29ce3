"""One INFO line per request, with the facts an operator greps for. Never a key or a body."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from gateway.context import CTX


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        ctx = request.get(CTX)
        self.logger.info(
            '%s "%s %s" %s %.1fms model=%s deployment=%s attempts=%s cache=%s request_id=%s',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
            (ctx and ctx.model) or "-",
            ctx.deployment.id if ctx and ctx.deployment else "-",
            ctx.attempts if ctx else 0,
            (ctx and ctx.cache_status) or "-",
            ctx.request_id if ctx else "-",
        )
