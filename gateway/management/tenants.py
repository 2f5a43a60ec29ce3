"""Creating, changing, suspending and activating tenants."""

from __future__ import annotations

import re
import secrets
from dataclasses import fields
from decimal import Decimal
from typing import Any

import asyncpg

from gateway.auth import invalidation
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.store import audit, queries, tenants
from gateway.store.audit import Actor
from gateway.store.records import Tenant
from gateway.store.tenants import TenantSettings

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
STATUSES = ("active", "suspended")
UPDATABLE = tuple(f.name for f in fields(TenantSettings))
_LIMITS = ("rpm", "tpm", "max_parallel", "budget_usd")
_ALERTS = queries.load("alerts")


async def create(
    pool: Any,
    actor: Actor,
    slug: str,
    name: str,
    plan: str = "free",
    allowed_models: list[str] | None = None,
) -> Tenant:
    if not _SLUG.fullmatch(slug):
        raise InvalidRequest(
            "slug must be 1-63 lowercase letters, digits or dashes, not starting or ending "
            "with a dash",
            param="slug",
        )
    if not name.strip():
        raise InvalidRequest("name must not be empty", param="name")
    async with pool.acquire() as conn, conn.transaction():
        try:
            tenant = await tenants.create(conn, slug, name.strip(), plan, allowed_models)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a tenant with slug {slug!r} already exists", param="slug") from None
        await audit.record(
            conn,
            actor,
            "tenant.create",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes={"slug": slug, "name": tenant.name, "plan": plan},
        )
    return tenant


async def get(pool: Any, slug: str) -> Tenant:
    tenant = await tenants.get_by_slug(pool, slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}", param="tenant")
    return tenant


async def set_status(pool: Any, actor: Actor, slug: str, status: str) -> Tenant:
    tenant = await get(pool, slug)
    async with pool.acquire() as conn, conn.transaction():
        updated = await tenants.set_status(conn, tenant.id, status)
        assert updated is not None
        await audit.record(
            conn,
            actor,
            "tenant.suspend" if status == "suspended" else "tenant.activate",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes={"status": [tenant.status, status]},
        )
        await invalidation.tenant_changed(conn, tenant.id)
    return updated


async def update(pool: Any, actor: Actor, slug: str, changes: dict[str, Any]) -> Tenant:
    """`changes` holds only the fields to change, any of `UPDATABLE`: name, plan, allowed
    models, and the default limits of the tenant's keys taken together (None: unlimited)."""
    tenant = await get(pool, slug)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidRequest(f"unknown field {sorted(unknown)[0]!r}", param=sorted(unknown)[0])
    current = {field: getattr(tenant, field) for field in UPDATABLE}
    new = {**current, **changes}
    _check_limits(new)
    async with pool.acquire() as conn, conn.transaction():
        updated = await tenants.update(conn, tenant.id, TenantSettings(**new))
        assert updated is not None
        await audit.record(
            conn,
            actor,
            "tenant.update",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes={
                f: [_plain(current[f]), _plain(new[f])] for f in UPDATABLE if current[f] != new[f]
            },
        )
        await invalidation.tenant_changed(conn, tenant.id)
    return updated


def _check_limits(settings: dict[str, Any]) -> None:
    for name in _LIMITS:
        if settings[name] is not None and settings[name] < 0:
            raise InvalidRequest(f"{name} must not be negative", param=name)
    if settings["budget_period"] not in (None, "day", "month"):
        raise InvalidRequest("budget_period must be day or month", param="budget_period")
    if settings["budget_usd"] is not None and settings["budget_period"] is None:
        raise InvalidRequest("a budget needs a budget_period (day or month)", param="budget_period")


def _plain(value: Any) -> Any:
    """Audit changes are JSON: amounts as exact decimal strings."""
    return str(value) if isinstance(value, Decimal) else value


async def set_alert_webhook(pool: Any, actor: Actor, slug: str, url: str | None) -> str | None:
    """Sets or removes the alert webhook; returns the new signing secret (shown once)."""
    if url is not None and not url.startswith(("https://", "http://")):
        raise InvalidRequest("url must be an http(s) URL", param="url")
    tenant = await get(pool, slug)
    secret = secrets.token_urlsafe(32) if url else None
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_ALERTS["set_webhook"], tenant.id, url, secret)
        await audit.record(
            conn,
            actor,
            "tenant.alert_webhook",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes={"url": url},
        )
    return secret
