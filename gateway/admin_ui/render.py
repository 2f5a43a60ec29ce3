"""Rendering a page: the template, the caller's context, and what every page needs."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.admin_api.access import ADMIN
from gateway.admin_ui import csrf
from gateway.admin_ui.routing_table import LINKS
from gateway.admin_ui.sessions import VISIT
from gateway.appkeys import POOL
from gateway.roles import PERMISSIONS, Action, Role, allows
from gateway.store import tenants, users

NAV_TENANTS = 200


async def render(
    request: web.Request, template: str, status: int = 200, **context: Any
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, await page_context(request) | context, status=status
    )


async def page_context(request: web.Request) -> dict[str, Any]:
    """What every page needs: the viewer, the CSRF token and the tenant menu."""
    principal = request.get(ADMIN)
    visit = request.get(VISIT)
    nav_tenants = await _nav_tenants(request) if principal else []
    current = request.match_info.get("tenant")
    return {
        "viewer": principal,
        "csrf_field": csrf.FIELD,
        "csrf_token": csrf.token(request) if visit is not None else "",
        "nav_tenants": nav_tenants,
        "current_tenant": current,
        "tenant_links": _links(request, "tenant", current, dict(nav_tenants)) if current else [],
        "platform_links": _links(request, "platform", None, {}),
    }


def _links(
    request: web.Request, scope: str, tenant: str | None, roles: dict[str, str | None]
) -> list[tuple[str, str]]:
    principal = request.get(ADMIN)
    if principal is None or (scope == "platform" and not principal.platform_admin):
        return []
    named = roles.get(tenant) if tenant else None
    role = Role(named) if named else None
    return [
        (link.label, link.path.replace("{tenant}", tenant or ""))
        for link in request.app[LINKS]
        if link.scope == scope
        and (link.action is None or principal.platform_admin or allows(role, link.action))
    ]


async def _nav_tenants(request: web.Request) -> list[tuple[str, str | None]]:
    """(slug, role) of the tenants the viewer may open; role None for platform admins."""
    principal = request[ADMIN]
    pool = request.config_dict[POOL]
    if principal.platform_admin or principal.user is None:
        return [(t.slug, None) for t in await tenants.list_all(pool, NAV_TENANTS, 0)]
    return [(slug, role) for _, slug, role in await users.memberships_of(pool, principal.user.id)]


def role_table() -> list[tuple[str, list[bool]]]:
    """The PERMISSIONS table as rows for the members page: action, then one flag per role."""
    return [(action.value, [r in PERMISSIONS[action] for r in Role]) for action in Action]
