"""Stage 3, API keys: passes on or raises `AuthenticationError`.

Guards the `/v1/` API only: health, metrics and the admin app have their own rules. Accepts
the key the way each SDK sends it: `Authorization: Bearer` (OpenAI), `api-key` (Azure) and
`x-api-key` (Anthropic). Every failure gets the same message, so there is no oracle.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.context import CTX, Principal
from gateway.errors import AuthenticationError

API_PREFIX = "/v1/"
INVALID_KEY = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'."


def presented_key(request: web.Request) -> str | None:
    headers = request.headers
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None
    return headers.get("api-key") or headers.get("x-api-key")


def make_middleware(master_key: str) -> Middleware:
    expected = master_key.encode()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX) or request.match_info.http_exception:
            return await handler(request)  # not the API, or no such route: 404/405 as usual
        key = presented_key(request)
        if key is None or not hmac.compare_digest(key.encode(), expected):
            raise AuthenticationError(INVALID_KEY)
        request[CTX].principal = Principal(kind="master")
        return await handler(request)

    return auth
