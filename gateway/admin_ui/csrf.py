"""CSRF protection for every state-changing request of the console, in two independent
checks: the browser's own word on where the request came from (`Sec-Fetch-Site`, `Origin`),
and a token in the form, bound by HMAC to the session (or, before sign-in, the visitor
cookie), so it cannot be taken from one user and replayed for another.

Short-circuits with a 403 page when either check fails; otherwise passes on. Routes in
`EXEMPT` (a SAML assertion posted by the identity provider) prove themselves otherwise.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.admin_ui.sessions import SIGNER, VISIT, is_tls

FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT = web.AppKey("console_csrf_exempt", frozenset[Any])
_SAME_SITE = frozenset({"same-origin", "none"})  # "none": typed in, or a bookmark


class CsrfRejected(Exception):
    """Rendered as the 403 page by the console's error pages."""


def token(request: web.Request) -> str:
    return request.app[SIGNER].mac("csrf", request[VISIT].binding)


def make_middleware() -> Middleware:
    @web.middleware
    async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in SAFE_METHODS or request.match_info.route in request.app[EXEMPT]:
            return await handler(request)
        if not _same_origin(request):
            raise CsrfRejected("the request came from another site")
        form = await request.post()
        sent = form.get(FIELD)
        if not isinstance(sent, str) or not hmac.compare_digest(sent, token(request)):
            raise CsrfRejected("the form's security token is missing or out of date")
        return await handler(request)

    return csrf


def _same_origin(request: web.Request) -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in _SAME_SITE:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # older browsers and non-browser clients: the token alone decides
    scheme = "https" if is_tls(request) else "http"
    return origin == f"{scheme}://{request.host}"
