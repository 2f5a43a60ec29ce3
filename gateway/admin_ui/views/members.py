"""A tenant's members: who they are and their roles, adding (inviting) someone, changing a
role, removing a member, and the role table so people know what each role may do.

Owners and admins manage members; only owners (and platform administrators) may grant,
change or remove the owner role, the same rule as the admin API's, in
`gateway.management.users`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from gateway.admin_api.access import ADMIN, may, owner_rights, tenant_for
from gateway.admin_api.members import NewMember, RoleChange
from gateway.admin_api.responses import uuid_param
from gateway.admin_ui import forms, sessions
from gateway.admin_ui.paging import fetch_page
from gateway.admin_ui.render import render, role_table
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import POOL
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.management import users as manage
from gateway.roles import Action, Role
from gateway.store import users
from gateway.store.records import Tenant


class AddForm(forms.Form, NewMember):
    model_config = forms.Form.model_config


class RoleForm(forms.Form, RoleChange):
    model_config = forms.Form.model_config


def _page(tenant: Tenant) -> str:
    return f"/admin/t/{tenant.slug}/members"


async def members_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.MEMBER_READ)
    flash = await sessions.take_flash(request) or {}
    return await _list(request, tenant, 200, notice=flash.get("notice"))


async def add_member(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    try:
        form = await forms.read(request, AddForm)
    except forms.FormErrors as exc:
        return await _list(request, tenant, 400, values=exc.values, errors=exc.errors)
    try:
        user, role = await manage.add_member(
            request.config_dict[POOL],
            principal.actor,
            tenant.slug,
            form.email,
            form.role,
            owner_rights=await owner_rights(request, tenant),
        )
    except (InvalidRequest, Conflict) as exc:
        errors = {exc.param or "": exc.message}
        return await _list(request, tenant, 400, values=form.model_dump(), errors=errors)
    await sessions.put_flash(request, {"notice": f"{user.email} is now {role.value}."})
    return redirect(_page(tenant))


async def change_role(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    try:
        form = await forms.read(request, RoleForm)
        user, role = await manage.put_membership(
            request.config_dict[POOL],
            principal.actor,
            tenant.slug,
            user_id,
            form.role,
            owner_rights=await owner_rights(request, tenant),
            members_only=True,
        )
    except forms.FormErrors as exc:
        return await _list(request, tenant, 400, row_errors={user_id: exc.errors["role"]})
    except InvalidRequest as exc:
        return await _list(request, tenant, 400, row_errors={user_id: exc.message})
    await sessions.put_flash(request, {"notice": f"{user.email} is now {role.value}."})
    return redirect(_page(tenant))


async def remove_page(request: web.Request) -> web.Response:
    tenant, _ = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    pool = request.config_dict[POOL]
    role, user = await users.role_in(pool, tenant.id, user_id), await users.get(pool, user_id)
    if role is None or user is None:
        raise NotFound("that user is not a member of this tenant", param="user")
    manage.check_owner_rule(await owner_rights(request, tenant), None, role)
    return await render(request, "member_remove.html", tenant=tenant, member=user, role=role)


async def remove_member(request: web.Request) -> web.StreamResponse:
    tenant, principal = await tenant_for(request, Action.MEMBER_MANAGE)
    user_id = uuid_param(request, "user_id")
    await manage.remove_membership(
        request.config_dict[POOL],
        principal.actor,
        tenant.slug,
        user_id,
        owner_rights=await owner_rights(request, tenant),
    )
    await sessions.put_flash(request, {"notice": "The member was removed."})
    me = principal.user.id if principal.user else None
    left = user_id == me and not principal.platform_admin
    return redirect("/admin/" if left else _page(tenant))


async def _list(
    request: web.Request,
    tenant: Tenant,
    status: int,
    *,
    notice: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    row_errors: dict[UUID, str] | None = None,
) -> web.Response:
    pool = request.config_dict[POOL]
    rows, pager = await fetch_page(
        request, lambda limit, at: users.list_in_tenant(pool, tenant.id, limit, at)
    )
    rights = await owner_rights(request, tenant)
    viewer = request[ADMIN].user
    return await render(
        request,
        "members_list.html",
        status,
        tenant=tenant,
        members=rows,
        pager=pager,
        me=viewer.id if viewer else None,
        can_manage=await may(request, tenant, Action.MEMBER_MANAGE),
        owner_rights=rights,
        roles=[role.value for role in Role],
        grantable=[role.value for role in Role if rights or role != Role.OWNER],
        role_table=role_table(),
        values=values or {"role": Role.MEMBER.value},
        errors=errors or {},
        row_errors=row_errors or {},
        notice=notice,
    )


ROUTES = (
    Route("GET", "/t/{tenant}/members", members_page),
    Route("POST", "/t/{tenant}/members", add_member),
    Route("POST", "/t/{tenant}/members/{user_id}", change_role),
    Route("GET", "/t/{tenant}/members/{user_id}/remove", remove_page),
    Route("POST", "/t/{tenant}/members/{user_id}/remove", remove_member),
)
LINKS = (
    Link("Members", "/admin/t/{tenant}/members", "tenant", order=30, action=Action.MEMBER_READ),
)
