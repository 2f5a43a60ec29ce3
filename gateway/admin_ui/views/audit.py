"""The audit log, newest first: a tenant's entries (owners and admins), or every tenant's
(platform administrators), filtered by actor, action, target and days, a page at a time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import platform_admin, tenant_for
from gateway.admin_api.responses import pagination
from gateway.admin_ui import forms
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.appkeys import POOL
from gateway.roles import Action
from gateway.store import audit, tenants
from gateway.store.audit import AuditFilter
from gateway.store.records import AuditEntry


class Filters(forms.Form):
    actor: str | None = Field(None, max_length=320)
    action: str | None = Field(None, max_length=100)
    target: str | None = Field(None, max_length=200)
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    tenant: str | None = Field(None, max_length=100)  # the platform page only


async def tenant_audit(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.AUDIT_READ)
    return await _entries(request, tenant.id, tenant.slug, f"/admin/t/{tenant.slug}/audit")


async def platform_audit(request: web.Request) -> web.Response:
    platform_admin(request)
    return await _entries(request, None, None, "/admin/audit")


async def _entries(
    request: web.Request, tenant_id: UUID | None, scope: str | None, here: str
) -> web.Response:
    page: dict[str, Any] = {"here": here, "scope": scope, "values": dict(request.query)}
    limit, offset = pagination(request)
    pool = request.config_dict[POOL]
    try:
        filters = forms.read_query(request, Filters)
        if scope is None and filters.tenant:
            tenant_id = await _tenant_id(pool, filters.tenant)
    except forms.FormErrors as exc:
        return await render(request, "audit_list.html", 400, errors=exc.errors, **page)
    where = AuditFilter(
        tenant_id=tenant_id,
        actor=filters.actor,
        action=filters.action,
        target_id=filters.target,
        since=_start_of(filters.since),
        until=_start_of(filters.until + timedelta(days=1) if filters.until else None),
    )
    rows = await audit.list_entries(pool, where, limit + 1, offset)
    chosen = filters.model_dump(exclude_none=True)
    return await render(
        request,
        "audit_list.html",
        errors={},
        entries=[_shown(entry) for entry in rows[:limit]],
        slugs=await _slugs(pool, rows) if scope is None else {},
        filter_link=lambda **change: f"{here}?{urlencode(chosen | change)}",
        newer=_page_link(here, chosen, limit, offset - limit) if offset > 0 else None,
        older=_page_link(here, chosen, limit, offset + limit) if len(rows) > limit else None,
        **page,
    )


def _shown(entry: AuditEntry) -> dict[str, Any]:
    return {
        "entry": entry,
        "when": entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": entry.actor_label or entry.actor_id or entry.actor_type,
        "changes": json.dumps(
            {name: value for name, value in entry.changes.items() if value is not None},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        ),
    }


async def _tenant_id(pool: Any, slug: str) -> UUID:
    tenant = await tenants.get_by_slug(pool, slug)
    if tenant is None:
        raise forms.FormErrors({"tenant": f"There is no tenant {slug!r}."}, {})
    return tenant.id


async def _slugs(pool: Any, rows: list[AuditEntry]) -> dict[UUID, str]:
    """Slugs of the tenants on this page (a few), for the platform's tenant column."""
    found = {}
    for tenant_id in {row.tenant_id for row in rows if row.tenant_id is not None}:
        tenant = await tenants.get(pool, tenant_id)
        if tenant is not None:
            found[tenant_id] = tenant.slug
    return found


def _start_of(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), UTC) if day else None


def _page_link(here: str, chosen: dict[str, Any], limit: int, offset: int) -> str:
    return f"{here}?{urlencode(chosen | {'limit': limit, 'offset': max(offset, 0)})}"


ROUTES = (
    Route("GET", "/t/{tenant}/audit", tenant_audit),
    Route("GET", "/audit", platform_audit),
)
LINKS = (
    Link("Audit log", "/admin/t/{tenant}/audit", "tenant", order=90, action=Action.AUDIT_READ),
    Link("Audit log", "/admin/audit", "platform", order=90),
)
