"""Who is using the console: the session cookie, checked once per request.

The cookie holds a random token and an HMAC of it under the console secret, so a forged or
altered cookie is refused without a database round trip; the database holds only the
token's SHA-256, with the absolute and idle expiry. A visitor who is not signed in gets a
signed visitor cookie instead, which the sign-in form's CSRF token is bound to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from cryptography.fernet import Fernet

from gateway.admin_api.access import ADMIN, AdminPrincipal
from gateway.appkeys import POOL
from gateway.config import AdminConsoleConfig
from gateway.store import admin_sessions, users
from gateway.store.admin_sessions import SessionRow

SESSION_COOKIE = "mb_session"
VISITOR_COOKIE = "mb_visitor"
COOKIE_PATH = "/admin"


class Signer:
    """HMAC-SHA256 over cookie values, with a purpose so one cookie can't pass as another."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"model-bridge-console:" + secret.encode()).digest()

    def mac(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, purpose: str, value: str) -> str:
        return f"{value}.{self.mac(purpose, value)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        value, _, mac = (signed or "").rpartition(".")
        if value and hmac.compare_digest(mac, self.mac(purpose, value)):
            return value
        return None


@dataclass(frozen=True, slots=True)
class Visit:
    """This request's session (None: not signed in) and what CSRF tokens are bound to."""

    token: str | None
    row: SessionRow | None
    binding: str

    @property
    def signed_in(self) -> bool:
        return self.row is not None and not self.row.second_factor_pending


VISIT = web.RequestKey("admin_visit", Visit)
SIGNER = web.AppKey("console_signer", Signer)
SETTINGS = web.AppKey("console_settings", AdminConsoleConfig)
PUBLIC = web.AppKey("console_public_routes", frozenset[Any])


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def make_middleware() -> Middleware:
    """Passes on with `VISIT` (and `ADMIN` when signed in) set; a page that needs a signed-in
    user short-circuits with a redirect to the sign-in page."""

    @web.middleware
    async def session(request: web.Request, handler: Handler) -> web.StreamResponse:
        app = request.app
        signer, settings, pool = app[SIGNER], app[SETTINGS], request.config_dict[POOL]
        token = signer.unsign("session", request.cookies.get(SESSION_COOKIE))
        row = (
            await admin_sessions.touch(pool, token_hash(token), settings.idle_minutes)
            if token
            else None
        )
        visitor = signer.unsign("visitor", request.cookies.get(VISITOR_COOKIE))
        fresh_visitor = visitor is None and row is None
        if fresh_visitor:
            visitor = secrets.token_urlsafe(24)
        visit = Visit(token if row else None, row, (token if row else visitor) or "")
        request[VISIT] = visit
        if visit.signed_in and row is not None:
            user = await users.get(pool, row.user_id)
            if user is not None:
                request[ADMIN] = AdminPrincipal(user, user.is_platform_admin, request.remote)
        if ADMIN not in request and request.match_info.route not in app[PUBLIC]:
            target = request.path_qs if request.method == "GET" else "/admin/"
            response: web.StreamResponse = redirect(f"/admin/login?next={quote(target)}")
        else:
            response = await handler(request)
        if fresh_visitor and visitor:
            set_cookie(request, response, VISITOR_COOKIE, signer.sign("visitor", visitor))
        return response

    return session


async def start(
    request: web.Request, response: web.StreamResponse, user_id: Any, method: str, pending: bool
) -> None:
    """Signs in: a new session (never a reused one, against fixation) in a new cookie."""
    await end(request, response)
    token = secrets.token_urlsafe(32)
    settings, pool = request.app[SETTINGS], request.config_dict[POOL]
    await admin_sessions.delete_expired(pool, settings.idle_minutes)  # cheap: indexed
    await admin_sessions.create(
        pool, token_hash(token), user_id, method, pending, settings.session_minutes
    )
    signed = request.app[SIGNER].sign("session", token)
    set_cookie(request, response, SESSION_COOKIE, signed, max_age=settings.session_minutes * 60)


async def end(request: web.Request, response: web.StreamResponse) -> None:
    token = request[VISIT].token
    if token is not None:
        await admin_sessions.delete(request.config_dict[POOL], token_hash(token))
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)


async def put_flash(request: web.Request, value: dict[str, Any]) -> None:
    """A message for the next page this session opens (after a 303), shown once. Sealed
    with a key derived from the session token, which only the cookie holds: a new key's
    secret waiting in the database is unreadable there."""
    token = request[VISIT].token
    if token is not None:
        sealed = _flash_cipher(token).encrypt(orjson.dumps(value)).decode()
        await admin_sessions.set_flash(request.config_dict[POOL], token_hash(token), sealed)


async def take_flash(request: web.Request) -> dict[str, Any] | None:
    token = request[VISIT].token
    if token is None:
        return None
    sealed = await admin_sessions.take_flash(request.config_dict[POOL], token_hash(token))
    if sealed is None:
        return None
    value: dict[str, Any] = orjson.loads(_flash_cipher(token).decrypt(sealed.encode()))
    return value


def _flash_cipher(token: str) -> Fernet:
    key = hashlib.sha256(b"model-bridge-flash:" + token.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    same_site: str = "Strict",
) -> None:
    forced = request.app[SETTINGS].secure_cookies
    secure = forced if forced is not None else is_tls(request)
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite=same_site,
    )


def is_tls(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def redirect(location: str) -> web.Response:
    """Post/Redirect/Get: a 303, so a reload never repeats the form's action."""
    return web.Response(status=303, headers={"Location": location})
