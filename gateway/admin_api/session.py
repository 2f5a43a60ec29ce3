"""`POST /admin/api/login`: email and password (and a TOTP code for accounts that have
one) in, a short-lived token out."""

from __future__ import annotations

from aiohttp import web

from gateway.admin_api.responses import Body, ok, parse
from gateway.admin_api.tokens import issue
from gateway.appkeys import POOL, THROTTLE
from gateway.errors import AuthenticationError
from gateway.management import sign_in

TOKEN_SECRET = web.AppKey("admin_token_secret", str)


class Login(Body):
    email: str
    password: str
    totp: str | None = None


async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    pool = request.config_dict[POOL]
    throttle = request.config_dict[THROTTLE]
    user, totp_secret = await sign_in.password(
        pool, throttle, body.email, body.password, request.remote
    )
    if totp_secret is not None:
        if not body.totp:
            raise AuthenticationError(
                "This account has a second factor: send the current code as 'totp'.",
                param="totp",
                code="totp_required",
            )
        await sign_in.second_factor(pool, throttle, user, totp_secret, body.totp, request.remote)
    await sign_in.succeeded(pool, throttle, user, "password", request.remote)
    token, expires = issue(request.app[TOKEN_SECRET], user.id)
    return ok({"token": token, "token_type": "Bearer", "expires_at": expires, "user": user})
