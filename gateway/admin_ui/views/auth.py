"""Signing in and out: email and password, then a TOTP code when the account has one."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import ADMIN
from gateway.admin_ui import forms, sessions
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Route
from gateway.admin_ui.sessions import VISIT, redirect
from gateway.appkeys import POOL, THROTTLE
from gateway.errors import AuthenticationError, RateLimited
from gateway.management import sign_in
from gateway.store import admin_sessions, users

HOME = "/admin/"


class Login(forms.Form):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    next: str = HOME


class Code(forms.Form):
    code: str = Field(pattern=r"^\s*\d{6}\s*$")


def safe_next(target: str | None) -> str:
    """Only a path inside the console: `next` must never send anyone to another site."""
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return HOME


async def login_page(request: web.Request) -> web.Response:
    if ADMIN in request:
        return redirect(safe_next(request.query.get("next")))
    return await render(request, "login.html", next=safe_next(request.query.get("next")), errors={})


async def login(request: web.Request) -> web.StreamResponse:
    try:
        form = await forms.read(request, Login)
    except forms.FormErrors as exc:
        return await render(request, "login.html", 400, errors=exc.errors, **_kept(exc.values))
    pool, throttle = request.config_dict[POOL], request.config_dict[THROTTLE]
    try:
        user, totp_secret = await sign_in.password(
            pool, throttle, form.email, form.password, request.remote
        )
    except (AuthenticationError, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 400
        response = await render(
            request,
            "login.html",
            status,
            errors={"": exc.message},
            email=form.email,
            next=form.next,
        )
        response.headers.update(exc.headers)
        return response
    pending = totp_secret is not None
    target = "/admin/login/code?next=" + safe_next(form.next) if pending else safe_next(form.next)
    response = redirect(target)
    await sessions.start(request, response, user.id, "password", pending=pending)
    if not pending:
        await sign_in.succeeded(pool, throttle, user, "password", request.remote)
    return response


async def code_page(request: web.Request) -> web.Response:
    if not _awaiting_code(request):
        return redirect("/admin/login")
    return await render(
        request, "login_code.html", next=safe_next(request.query.get("next")), errors={}
    )


async def submit_code(request: web.Request) -> web.StreamResponse:
    visit = request[VISIT]
    if not _awaiting_code(request) or visit.row is None or visit.token is None:
        return redirect("/admin/login")
    next_page = safe_next((await request.post()).get("next"))  # type: ignore[arg-type]
    try:
        form = await forms.read(request, Code)
    except forms.FormErrors as exc:
        return await render(request, "login_code.html", 400, errors=exc.errors, next=next_page)
    pool, throttle = request.config_dict[POOL], request.config_dict[THROTTLE]
    user = await users.get(pool, visit.row.user_id)
    secret = await users.totp_secret(pool, visit.row.user_id)
    if user is None or secret is None:
        return redirect("/admin/login")
    try:
        await sign_in.second_factor(pool, throttle, user, secret, form.code, request.remote)
    except (AuthenticationError, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 400
        return await render(
            request, "login_code.html", status, errors={"code": exc.message}, next=next_page
        )
    await admin_sessions.complete_second_factor(pool, sessions.token_hash(visit.token))
    await sign_in.succeeded(pool, throttle, user, "password", request.remote)
    return redirect(next_page)


async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect("/admin/login")
    await sessions.end(request, response)
    return response


def _awaiting_code(request: web.Request) -> bool:
    row = request[VISIT].row
    return row is not None and row.second_factor_pending


def _kept(values: dict[str, object]) -> dict[str, object]:
    """What a re-rendered sign-in form keeps: never the password."""
    return {"email": values.get("email", ""), "next": safe_next(str(values.get("next", "")))}


async def home(request: web.Request) -> web.Response:
    """Straight to the one place most people work: the platform overview for platform
    administrators, the tenant's overview for a member of one tenant; otherwise a chooser."""
    principal = request[ADMIN]
    if principal.platform_admin:
        return redirect("/admin/overview")
    if principal.user is not None:
        memberships = await users.memberships_of(request.config_dict[POOL], principal.user.id)
        if len(memberships) == 1:
            return redirect(f"/admin/t/{memberships[0][1]}/")
    return await render(request, "home.html")


ROUTES = (
    Route("GET", "/", home),
    Route("GET", "/login", login_page, public=True),
    Route("POST", "/login", login, public=True),
    Route("GET", "/login/code", code_page, public=True),
    Route("POST", "/login/code", submit_code, public=True),
    Route("POST", "/logout", logout),
)
