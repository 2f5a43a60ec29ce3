"""Members of a tenant and their roles. Only owners (and platform administrators) may make
someone an owner or change an owner's membership, so an admin cannot take over a tenant."""

from __future__ import annotations

from aiohttp import web

from gateway.admin_api.access import AdminPrincipal, role_of, tenant_for
from gateway.admin_api.responses import Body, ok, page, pagination, parse, uuid_param
from gateway.appkeys import POOL
from gateway.errors import NotFound, PermissionDenied
from gateway.management import users as manage_users
from gateway.roles import Action, Role
from gateway.store import users
from gateway.store.records import Tenant


class NewMember(Body):
    email: str
    role: str


class RoleChange(Body):
    role: str


async def list_members(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.MEMBER_READ)
    limit, offset = pagination(request)
    rows = await users.list_in_tenant(request.config_dict[POOL], tenant.id, limit + 1, offset)
    return page(rows, limit, offset)


async def add_member(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    body = await parse(request, NewMember)
    pool = request.config_dict[POOL]
    role = manage_users.parse_role(body.role)
    await _check_owner_rule(request, tenant, principal, role, None)
    found = await users.get_by_email(pool, body.email)
    user = (
        found[0]
        if found
        else await manage_users.create(
            pool,
            principal.actor,
            body.email,
            None,  # invited: signs in with SSO or sets a password
        )
    )
    _, role = await manage_users.put_membership(
        pool, principal.actor, tenant.slug, user.id, role.value
    )
    return ok({"id": user.id, "email": user.email, "role": role.value}, status=201)


async def change_member(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    role = manage_users.parse_role((await parse(request, RoleChange)).role)
    pool = request.config_dict[POOL]
    current = await users.role_in(pool, tenant.id, user_id)
    if current is None:
        raise NotFound("that user is not a member of this tenant", param="user")
    await _check_owner_rule(request, tenant, principal, role, Role(current))
    user, role = await manage_users.put_membership(
        pool, principal.actor, tenant.slug, user_id, role.value
    )
    return ok({"id": user.id, "email": user.email, "role": role.value})


async def remove_member(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    pool = request.config_dict[POOL]
    current = await users.role_in(pool, tenant.id, user_id)
    if current is None:
        raise NotFound("that user is not a member of this tenant", param="user")
    await _check_owner_rule(request, tenant, principal, None, Role(current))
    await manage_users.remove_membership(pool, principal.actor, tenant.slug, user_id)
    return web.Response(status=204)


async def _check_owner_rule(
    request: web.Request,
    tenant: Tenant,
    principal: AdminPrincipal,
    new: Role | None,
    current: Role | None,
) -> None:
    if Role.OWNER not in (new, current) or principal.platform_admin:
        return
    if await role_of(request, tenant) != Role.OWNER:
        raise PermissionDenied("only an owner may grant, change or remove the owner role")
