"""Reading the audit log: a tenant's entries, or the whole platform's."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from aiohttp import web

from gateway.admin_api.access import platform_admin, tenant_for
from gateway.admin_api.responses import page, pagination
from gateway.appkeys import POOL
from gateway.errors import InvalidRequest
from gateway.roles import Action
from gateway.store import audit, tenants
from gateway.store.audit import AuditFilter


async def tenant_audit(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.AUDIT_READ)
    return await _entries(request, _filters(request, tenant.id))


async def platform_audit(request: web.Request) -> web.Response:
    platform_admin(request)
    tenant_id = None
    slug = request.query.get("tenant")
    if slug:
        tenant = await tenants.get_by_slug(request.config_dict[POOL], slug)
        if tenant is None:
            raise InvalidRequest(f"no tenant {slug!r}", param="tenant")
        tenant_id = tenant.id
    return await _entries(request, _filters(request, tenant_id))


async def _entries(request: web.Request, where: AuditFilter) -> web.Response:
    limit, offset = pagination(request)
    rows = await audit.list_entries(request.config_dict[POOL], where, limit + 1, offset)
    return page(rows, limit, offset)


def _filters(request: web.Request, tenant_id: UUID | None) -> AuditFilter:
    query = request.query
    return AuditFilter(
        tenant_id=tenant_id,
        actor=query.get("actor"),
        action=query.get("action"),
        target_id=query.get("target"),
        since=_time(query.get("since"), "since"),
        until=_time(query.get("until"), "until"),
    )


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time", param=name) from None
