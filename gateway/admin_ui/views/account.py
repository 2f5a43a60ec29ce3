"""The signed-in user's own account: turning the TOTP second factor on and off."""

from __future__ import annotations

import segno
from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import ADMIN
from gateway.admin_ui import forms
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import POOL
from gateway.management import sign_in
from gateway.store import audit, users
from gateway.store.records import User

_CODE = r"^\s*\d{6}\s*$"


class Enable(forms.Form):
    secret: str = Field(pattern=r"^[A-Z2-7]{32}$")
    code: str = Field(pattern=_CODE)


class Disable(forms.Form):
    code: str = Field(pattern=_CODE)


async def account_page(request: web.Request) -> web.Response:
    user = _user(request)
    enabled = await users.totp_secret(request.config_dict[POOL], user.id) is not None
    return await render(request, "account.html", totp_enabled=enabled, errors={})


async def totp_setup_page(request: web.Request) -> web.Response:
    """A new secret to scan; nothing is stored until a code from it is confirmed."""
    return await _setup(request, sign_in.new_totp_secret(), {}, 200)


async def enable_totp(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    try:
        form = await forms.read(request, Enable)
    except forms.FormErrors as exc:
        secret = str(exc.values.get("secret", ""))
        if "secret" in exc.errors:
            secret = sign_in.new_totp_secret()
        return await _setup(request, secret, exc.errors, 400)
    step = sign_in.matching_step(form.secret, form.code)
    if step is None:
        return await _setup(
            request, form.secret, {"code": "That code does not match. Try again."}, 400
        )
    pool = request.config_dict[POOL]
    await users.set_totp_secret(pool, user.id, form.secret)
    await users.use_totp_step(pool, user.id, step)  # the code just shown is now spent
    await audit.record(
        pool, request[ADMIN].actor, "user.totp_enable", target_type="user", target_id=user.id
    )
    return redirect("/admin/account")


async def disable_totp(request: web.Request) -> web.StreamResponse:
    user = _user(request)
    pool = request.config_dict[POOL]
    secret = await users.totp_secret(pool, user.id)
    try:
        form = await forms.read(request, Disable)
        if secret is not None and sign_in.matching_step(secret, form.code) is None:
            raise forms.FormErrors({"code": "That code does not match."}, {})
    except forms.FormErrors as exc:
        return await render(
            request, "account.html", 400, totp_enabled=secret is not None, errors=exc.errors
        )
    await users.set_totp_secret(pool, user.id, None)
    await audit.record(
        pool, request[ADMIN].actor, "user.totp_disable", target_type="user", target_id=user.id
    )
    return redirect("/admin/account")


async def _setup(
    request: web.Request, secret: str, errors: dict[str, str], status: int
) -> web.Response:
    uri = sign_in.provisioning_uri(secret, _user(request).email)
    return await render(
        request,
        "account_totp.html",
        status,
        secret=secret,
        uri=uri,
        qr=segno.make(uri, error="m").svg_data_uri(scale=4),
        errors=errors,
    )


def _user(request: web.Request) -> User:
    user = request[ADMIN].user
    if user is None:  # the master key never reaches the console, which has no bearer sign-in
        raise web.HTTPForbidden()
    return user


ROUTES = (
    Route("GET", "/account", account_page),
    Route("GET", "/account/totp", totp_setup_page),
    Route("POST", "/account/totp", enable_totp),
    Route("POST", "/account/totp/disable", disable_totp),
)
