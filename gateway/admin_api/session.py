"""`POST /admin/api/login`: email and password in, a short-lived token out."""

from __future__ import annotations

from aiohttp import web

from gateway.admin_api.responses import Body, ok, parse
from gateway.admin_api.throttle import LoginThrottle
from gateway.admin_api.tokens import issue
from gateway.appkeys import POOL
from gateway.errors import AuthenticationError, RateLimited
from gateway.passwords import verify_password
from gateway.store import audit, users
from gateway.store.audit import Actor

TOKEN_SECRET = web.AppKey("admin_token_secret", str)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)


class Login(Body):
    email: str
    password: str


async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    pool = request.config_dict[POOL]
    throttle = request.app[THROTTLE]
    subjects = (f"account:{body.email.lower()}", f"address:{request.remote}")
    wait = throttle.retry_after(*subjects)
    if wait > 0:
        raise RateLimited(
            "Too many failed sign-in attempts. Try again later.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    found = await users.get_by_email(pool, body.email)
    user, password_hash = found if found else (None, None)
    if not await verify_password(password_hash, body.password) or user is None:
        throttle.failed(*subjects)
        actor = Actor(type="anonymous", label=body.email.lower(), ip=request.remote)
        await audit.record(
            pool,
            actor,
            "user.login_failed",
            target_type="user",
            target_id=user.id if user else None,
        )
        raise AuthenticationError("Incorrect email or password.", code="invalid_credentials")
    throttle.succeeded(subjects[0])
    token, expires = issue(request.app[TOKEN_SECRET], user.id)
    actor = Actor(type="user", id=str(user.id), label=user.email, ip=request.remote)
    await audit.record(pool, actor, "user.login", target_type="user", target_id=user.id)
    return ok({"token": token, "token_type": "Bearer", "expires_at": expires, "user": user})
