"""Stage 1, errors: the outermost stage, and the only one that renders errors.

Passes on, and turns whatever comes back up (a `GatewayError`, aiohttp's own 404/405/413, or
an unexpected exception) into one OpenAI-shaped response. An unexpected exception is logged
with its traceback here and reaches the client as a bare 500 carrying the request id.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX
from gateway.errors import GatewayError, UpstreamError, from_http_exception, render

logger = logging.getLogger(__name__)


def make_middleware() -> Middleware:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as exc:
            error = exc
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # redirects are responses, not failures
            error = from_http_exception(exc)
        except Exception:
            logger.exception("unhandled error")
            ctx = request.get(CTX)
            reference = f" (request id {ctx.request_id})" if ctx else ""
            error = GatewayError(f"The server had an error processing your request{reference}.")
        ctx = request.get(CTX)
        if ctx is not None:
            ctx.error = error
        if isinstance(error, UpstreamError):
            logger.warning("upstream error from %s: %s", error.provider, error.message)
        return render(error)

    return errors
