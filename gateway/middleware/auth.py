"""Stage 3, API keys: passes on, or raises `AuthenticationError` / `PermissionDenied`.

Guards the `/v1/` API only: health, metrics and the admin app have their own rules. Accepts
the key the way each SDK sends it: `Authorization: Bearer` (OpenAI), `api-key` (Azure) and
`x-api-key` (Anthropic). A missing, unknown, expired or revoked key gets the same message, so
there is no oracle. Keys resolve from the in-process cache; only a miss reads the database.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway import api_keys
from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo
from gateway.auth.key_use import KeyUseRecorder
from gateway.context import CTX, Principal
from gateway.errors import AuthenticationError, PermissionDenied

API_PREFIX = "/v1/"
INVALID_KEY = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'."
_MASTER = Principal(kind="master")


def presented_key(request: web.Request) -> str | None:
    headers = request.headers
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None
    return headers.get("api-key") or headers.get("x-api-key")


def make_middleware(
    master_key: str, keys: KeyCache[KeyInfo], key_use: KeyUseRecorder
) -> Middleware:
    master = master_key.encode()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX) or request.match_info.http_exception:
            return await handler(request)  # not the API, or no such route: 404/405 as usual
        secret = presented_key(request)
        if secret is None:
            raise AuthenticationError(INVALID_KEY)
        if hmac.compare_digest(secret.encode(), master):
            request[CTX].principal = _MASTER
            return await handler(request)
        info = (
            await keys.get(api_keys.hash_key(secret)) if api_keys.looks_like_key(secret) else None
        )
        if info is None or not info.usable():
            raise AuthenticationError(INVALID_KEY)
        if not info.tenant_active:
            raise PermissionDenied(
                "This key's organization is suspended.", code="organization_suspended"
            )
        request[CTX].principal = Principal("key", info)
        key_use.mark(info.key_id)
        return await handler(request)

    return auth
