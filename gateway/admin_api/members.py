"""Members of a tenant and their roles (the owner rule: `gateway.management.users`)."""

from __future__ import annotations

from aiohttp import web

from gateway.admin_api.access import owner_rights, tenant_for
from gateway.admin_api.responses import Body, ok, page, pagination, parse, uuid_param
from gateway.appkeys import POOL
from gateway.management import users as manage_users
from gateway.roles import Action
from gateway.store import users


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
    user, role = await manage_users.add_member(
        request.config_dict[POOL],
        principal.actor,
        tenant.slug,
        body.email,
        body.role,
        owner_rights=await owner_rights(request, tenant),
    )
    return ok({"id": user.id, "email": user.email, "role": role.value}, status=201)


async def change_member(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    body = await parse(request, RoleChange)
    user, role = await manage_users.put_membership(
        request.config_dict[POOL],
        principal.actor,
        tenant.slug,
        user_id,
        body.role,
        owner_rights=await owner_rights(request, tenant),
        members_only=True,
    )
    return ok({"id": user.id, "email": user.email, "role": role.value})


async def remove_member(request: web.Request) -> web.Response:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    await manage_users.remove_membership(
        request.config_dict[POOL],
        principal.actor,
        tenant.slug,
        user_id,
        owner_rights=await owner_rights(request, tenant),
    )
    return web.Response(status=204)
