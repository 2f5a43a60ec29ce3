"""A tenant's API keys: the secret appears once, in the creation response, and never again."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import AdminPrincipal, tenant_for
from gateway.admin_api.responses import Body, ok, page, pagination, parse, uuid_param
from gateway.appkeys import POOL
from gateway.errors import NotFound
from gateway.management import keys as manage
from gateway.roles import Action
from gateway.store import keys
from gateway.store.keys import KeySettings


class NewKey(Body):
    name: str = Field(min_length=1, max_length=200)
    models: list[str] | None = None
    expires_at: datetime | None = None
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)
    max_parallel: int | None = Field(None, ge=0)
    budget_usd: Decimal | None = Field(None, ge=0)
    budget_period: Literal["day", "month"] | None = None
    tags: dict[str, str] = {}
    pins: dict[str, str] = {}  # data residency: only deployments carrying these tags


async def list_keys(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.KEY_READ)
    limit, offset = pagination(request)
    rows = await keys.list_in_tenant(request.config_dict[POOL], tenant.id, limit + 1, offset)
    return page(rows, limit, offset)


def key_settings(body: NewKey, principal: AdminPrincipal) -> KeySettings:
    """A new key as asked for, owned by whoever creates it."""
    return KeySettings(
        name=body.name,
        user_id=principal.user.id if principal.user else None,
        allowed_models=body.models,
        rpm=body.rpm,
        tpm=body.tpm,
        max_parallel=body.max_parallel,
        budget_usd=body.budget_usd,
        budget_period=body.budget_period,
        tags=body.tags,
        expires_at=body.expires_at,
        pinned_tags=body.pins,
    )


async def create_key(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.KEY_CREATE)
    settings = key_settings(await parse(request, NewKey), principal)
    created = await manage.create(request.config_dict[POOL], principal.actor, tenant.slug, settings)
    return ok({"key": created.key, "secret": created.secret}, status=201)


async def get_key(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.KEY_READ)
    key = await keys.get_in_tenant(
        request.config_dict[POOL], tenant.id, uuid_param(request, "key_id")
    )
    if key is None:
        raise NotFound("no such key in this tenant", param="key")
    return ok(key)


async def revoke_key(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.KEY_REVOKE)
    key = await manage.revoke(
        request.config_dict[POOL], principal.actor, tenant.id, uuid_param(request, "key_id")
    )
    return ok(key)
