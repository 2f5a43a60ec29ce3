"""The console's error pages: the outermost console middleware, so every refusal below it
(a role check, a missing object, a bad CSRF token, a bug) becomes one HTML page with the
right status, never the API's JSON and never a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.admin_ui.csrf import CsrfRejected
from gateway.admin_ui.render import render
from gateway.context import CTX
from gateway.errors import GatewayError

logger = logging.getLogger(__name__)

_TITLES = {
    400: "That request was not valid",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Too many attempts",
}


def make_middleware() -> Middleware:
    @web.middleware
    async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as exc:
            status, message, headers = exc.status, exc.message, exc.headers
        except CsrfRejected as exc:
            status, headers = 403, {}
            message = f"This form was refused: {exc}. Go back, reload the page and submit it again."
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            status, message, headers = exc.status, exc.reason, {}
        except Exception:
            logger.exception("unhandled error in the admin console")
            status, headers = 500, {}
            message = "Something went wrong on our side."
        ctx = request.get(CTX)
        response = await render(
            request,
            "error.html",
            status=status,
            title=_TITLES.get(status, "Something went wrong"),
            message=message,
            request_id=ctx.request_id if ctx else None,
        )
        response.headers.update(headers)
        return response

    return error_pages
