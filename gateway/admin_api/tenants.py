"""Tenants: platform administrators manage them all; members read their own."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import ADMIN, platform_admin, tenant_for
from gateway.admin_api.responses import Body, ok, page, pagination, parse
from gateway.appkeys import POOL
from gateway.errors import PermissionDenied
from gateway.management import tenants as manage
from gateway.roles import Action
from gateway.store import tenants


class NewTenant(Body):
    slug: str
    name: str
    plan: str = "free"
    allowed_models: list[str] | None = None


class TenantChanges(Body):
    name: str | None = None
    plan: str | None = None
    allowed_models: list[str] | None = None
    # The tenant's defaults for all its keys together; null lifts the limit.
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)
    max_parallel: int | None = Field(None, ge=0)
    budget_usd: Decimal | None = Field(None, ge=0)
    budget_period: Literal["day", "month"] | None = None


async def list_tenants(request: web.Request) -> web.Response:
    principal = request[ADMIN]
    limit, offset = pagination(request)
    pool = request.config_dict[POOL]
    if principal.platform_admin or principal.user is None:
        rows = await tenants.list_all(pool, limit + 1, offset)
    else:
        rows = await tenants.list_for_user(pool, principal.user.id, limit + 1, offset)
    return page(rows, limit, offset)


async def create_tenant(request: web.Request) -> web.Response:
    principal = platform_admin(request)
    body = await parse(request, NewTenant)
    tenant = await manage.create(
        request.config_dict[POOL],
        principal.actor,
        body.slug,
        body.name,
        body.plan,
        body.allowed_models,
    )
    return ok(tenant, status=201)


async def get_tenant(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.TENANT_READ)
    return ok(tenant)


async def update_tenant(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.TENANT_UPDATE)
    changes = (await parse(request, TenantChanges)).model_dump(exclude_unset=True)
    if not principal.platform_admin and set(changes) - {"name"}:
        raise PermissionDenied("only platform administrators may change plan, models or limits")
    updated = await manage.update(request.config_dict[POOL], principal.actor, tenant.slug, changes)
    return ok(updated)


async def suspend_tenant(request: web.Request) -> web.Response:
    return await _set_status(request, "suspended")


async def activate_tenant(request: web.Request) -> web.Response:
    return await _set_status(request, "active")


async def _set_status(request: web.Request, status: str) -> web.Response:
    tenant, _ = await tenant_for(request, Action.TENANT_READ)
    principal = platform_admin(request)
    updated = await manage.set_status(
        request.config_dict[POOL], principal.actor, tenant.slug, status
    )
    return ok(updated)


class Webhook(Body):
    url: str | None  # None removes it


async def set_alert_webhook(request: web.Request) -> web.Response:
    """Where budget and quota alerts are posted; the signing secret is shown once."""
    tenant, principal = await tenant_for(request, Action.TENANT_UPDATE)
    body = await parse(request, Webhook)
    secret = await manage.set_alert_webhook(
        request.config_dict[POOL], principal.actor, tenant.slug, body.url
    )
    return ok({"url": body.url, "secret": secret})
