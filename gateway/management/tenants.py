"""Creating, changing, suspending and activating tenants."""

from __future__ import annotations

import re
import secrets
from typing import Any

import asyncpg

from gateway.auth import invalidation
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.store import audit, queries, tenants
from gateway.store.audit import Actor
from gateway.store.records import Tenant

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
STATUSES = ("active", "suspended")
UPDATABLE = ("name", "plan", "allowed_models")
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
    """`changes` holds only the fields to change: any of name, plan, allowed_models."""
    tenant = await get(pool, slug)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidRequest(f"unknown field {sorted(unknown)[0]!r}", param=sorted(unknown)[0])
    current = {field: getattr(tenant, field) for field in UPDATABLE}
    new = {**current, **changes}
    async with pool.acquire() as conn, conn.transaction():
        updated = await tenants.update(conn, tenant.id, *(new[f] for f in UPDATABLE))
        assert updated is not None
        await audit.record(
            conn,
            actor,
            "tenant.update",
            tenant_id=tenant.id,
            target_type="tenant",
            target_id=tenant.id,
            changes={f: [current[f], new[f]] for f in UPDATABLE if current[f] != new[f]},
        )
        await invalidation.tenant_changed(conn, tenant.id)
    return updated


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
