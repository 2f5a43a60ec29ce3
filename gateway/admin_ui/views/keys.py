"""A tenant's API keys: the list, creating one (its secret shown once, on the page the
creation redirects to, and never again), and revoking one after a confirmation.

The form is the admin API's `NewKey` read from HTML; the key is made and revoked by
`gateway.management.keys`, which writes the audit log and tells every process at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from aiohttp import web
from pydantic import field_validator

from gateway.admin_api.access import may, tenant_for
from gateway.admin_api.keys import NewKey, key_settings
from gateway.admin_api.responses import uuid_param
from gateway.admin_ui import forms, model_choices, sessions
from gateway.admin_ui.paging import fetch_page
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest, NotFound
from gateway.management import keys as manage
from gateway.roles import Action
from gateway.store import keys, users
from gateway.store.records import Tenant

_SECRET = "new_key"  # the flash that carries a new key's secret to the next page only


class KeyForm(forms.Form, NewKey):
    """Tags as `key=value` lines; the expiry a date (the key stops at 00:00 UTC that day)."""

    model_config = forms.Form.model_config

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_lines(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        tags = {}
        for number, line in enumerate(value.splitlines(), 1):
            name, sep, tag = line.partition("=")
            if line.strip() and (not sep or not name.strip()):
                raise ValueError(f"line {number} is not key=value")
            if line.strip():
                tags[name.strip()] = tag.strip()
        return tags

    @field_validator("expires_at", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return datetime.combine(date.fromisoformat(value), time.min, UTC)
        except ValueError:
            raise ValueError("enter a date such as 2030-12-31") from None

    @field_validator("expires_at")
    @classmethod
    def _ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("the expiry date must be in the future")
        return value


def _page(tenant: Tenant) -> str:
    return f"/admin/t/{tenant.slug}/keys"


async def keys_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.KEY_READ)
    pool = request.config_dict[POOL]
    rows, pager = await fetch_page(
        request, lambda limit, at: keys.list_in_tenant(pool, tenant.id, limit, at)
    )
    owners = await users.emails_of(pool, [k.user_id for k in rows if k.user_id])
    flash = await sessions.take_flash(request) or {}
    return await render(
        request,
        "keys_list.html",
        tenant=tenant,
        keys=rows,
        owners=owners,
        pager=pager,
        now=datetime.now(UTC),
        can_create=await may(request, tenant, Action.KEY_CREATE),
        can_revoke=await may(request, tenant, Action.KEY_REVOKE),
        notice=flash.get("notice"),
    )


async def new_key_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.KEY_CREATE)
    return await _form(request, tenant, {}, {}, 200)


async def create_key(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.KEY_CREATE)
    try:
        form = await forms.read(request, KeyForm)
        model_choices.check(form.models, model_choices.for_key(request, tenant), "models")
        created = await manage.create(
            request.config_dict[POOL], principal.actor, tenant.slug, key_settings(form, principal)
        )
    except forms.FormErrors as exc:
        return await _form(request, tenant, exc.values, exc.errors, 400)
    except InvalidRequest as exc:
        posted = await request.post()
        values = {**posted, "models": posted.getall("models", [])}
        return await _form(request, tenant, values, {exc.param or "": exc.message}, 400)
    key = created.key
    shown = {"tenant": tenant.slug, "name": key.name, "prefix": key.prefix}
    await sessions.put_flash(request, {_SECRET: shown | {"secret": created.secret}})
    return redirect(f"{_page(tenant)}/created")


async def created_page(request: web.Request) -> web.Response:
    """The new key's secret, once: the flash is gone after this page, so a reload (or any
    later visit) shows that it cannot be shown again."""
    tenant, _ = await tenant_for(request, Action.KEY_CREATE)
    new_key = (await sessions.take_flash(request) or {}).get(_SECRET)
    if new_key is not None and new_key.get("tenant") != tenant.slug:
        new_key = None
    return await render(request, "key_created.html", tenant=tenant, new_key=new_key)


async def revoke_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.KEY_REVOKE)
    key = await keys.get_in_tenant(
        request.config_dict[POOL], tenant.id, uuid_param(request, "key_id")
    )
    if key is None or key.revoked_at is not None:
        raise NotFound("no such active key in this tenant", param="key")
    return await render(request, "key_revoke.html", tenant=tenant, key=key)


async def revoke_key(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.KEY_REVOKE)
    key = await manage.revoke(
        request.config_dict[POOL], principal.actor, tenant.id, uuid_param(request, "key_id")
    )
    notice = f"Key {key.name} ({key.prefix}) is revoked: requests with it are refused."
    await sessions.put_flash(request, {"notice": notice})
    return redirect(_page(tenant))


async def _form(
    request: web.Request,
    tenant: Tenant,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int,
) -> web.Response:
    return await render(
        request,
        "key_new.html",
        status,
        tenant=tenant,
        models=model_choices.for_key(request, tenant),
        values=values,
        errors=errors,
    )


ROUTES = (
    Route("GET", "/t/{tenant}/keys", keys_page),
    Route("POST", "/t/{tenant}/keys", create_key),
    Route("GET", "/t/{tenant}/keys/new", new_key_page),
    Route("GET", "/t/{tenant}/keys/created", created_page),
    Route("GET", "/t/{tenant}/keys/{key_id}/revoke", revoke_page),
    Route("POST", "/t/{tenant}/keys/{key_id}/revoke", revoke_key),
)
LINKS = (Link("API keys", "/admin/t/{tenant}/keys", "tenant", order=20, action=Action.KEY_READ),)
