"""Tenants, for platform administrators: the list, creating one, its plan, the default limits
of its keys taken together, the models it may use, and suspending or activating it.

The forms are the admin API's bodies read from HTML, and every change goes through
`gateway.management.tenants`, which writes the audit log.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from gateway.admin_api.access import platform_admin, tenant_for
from gateway.admin_api.tenants import NewTenant, TenantChanges
from gateway.admin_ui import forms, model_choices, sessions
from gateway.admin_ui.paging import fetch_page
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Link, Route
from gateway.admin_ui.sessions import redirect
from gateway.appkeys import CONFIG, POOL
from gateway.config import PlanConfig
from gateway.errors import Conflict, InvalidRequest
from gateway.management import tenants as manage
from gateway.roles import Action
from gateway.store import tenants
from gateway.store.records import Tenant

PAGE = "/admin/tenants"


class NewTenantForm(forms.Form, NewTenant):
    model_config = forms.Form.model_config


class TenantForm(forms.Form, TenantChanges):
    """The whole settings form: a blank limit means none, no model ticked means every model."""

    model_config = forms.Form.model_config
    name: str = Field(max_length=200)
    plan: str


async def tenants_page(request: web.Request) -> web.Response:
    platform_admin(request)
    flash = await sessions.take_flash(request) or {}
    return await _list(request, {}, {}, 200, notice=flash.get("notice"))


async def create_tenant(request: web.Request) -> web.StreamResponse:
    principal = platform_admin(request)
    try:
        form = await forms.read(request, NewTenantForm)
    except forms.FormErrors as exc:
        return await _list(request, exc.values, exc.errors, 400)
    try:
        _check_plan(request, form.plan, None)
        tenant = await manage.create(
            request.config_dict[POOL], principal.actor, form.slug, form.name, form.plan
        )
    except (InvalidRequest, Conflict) as exc:
        errors = {exc.param or "": exc.message}
        return await _list(request, form.model_dump(), errors, exc.status)
    await sessions.put_flash(request, {"notice": f"Tenant {tenant.slug} created."})
    return redirect(f"{PAGE}/{tenant.slug}")


async def tenant_page(request: web.Request) -> web.Response:
    tenant = await _tenant(request)
    flash = await sessions.take_flash(request) or {}
    values = {field: getattr(tenant, field) for field in manage.UPDATABLE}
    return await _edit(request, tenant, values, {}, 200, notice=flash.get("notice"))


async def update_tenant(request: web.Request) -> web.StreamResponse:
    tenant = await _tenant(request)
    principal = platform_admin(request)
    try:
        form = await forms.read(request, TenantForm)
    except forms.FormErrors as exc:
        return await _edit(request, tenant, exc.values, exc.errors, 400)
    try:
        _check_plan(request, form.plan, tenant)
        model_choices.check(
            form.allowed_models, model_choices.for_tenant(request, tenant), "allowed_models"
        )
        await manage.update(
            request.config_dict[POOL], principal.actor, tenant.slug, form.model_dump()
        )
    except InvalidRequest as exc:
        errors = {exc.param or "": exc.message}
        return await _edit(request, tenant, form.model_dump(), errors, 400)
    await sessions.put_flash(request, {"notice": "Settings saved."})
    return redirect(f"{PAGE}/{tenant.slug}")


async def suspend_page(request: web.Request) -> web.Response:
    return await render(request, "tenant_suspend.html", tenant=await _tenant(request))


async def suspend_tenant(request: web.Request) -> web.StreamResponse:
    return await _set_status(request, "suspended", "suspended: its keys are refused")


async def activate_tenant(request: web.Request) -> web.StreamResponse:
    return await _set_status(request, "active", "active again")


async def _set_status(request: web.Request, status: str, outcome: str) -> web.StreamResponse:
    tenant = await _tenant(request)
    principal = platform_admin(request)
    await manage.set_status(request.config_dict[POOL], principal.actor, tenant.slug, status)
    await sessions.put_flash(request, {"notice": f"Tenant {tenant.slug} is {outcome}."})
    return redirect(f"{PAGE}/{tenant.slug}")


async def _tenant(request: web.Request) -> Tenant:
    """The tenant in the address: not found for those outside it, as on every tenant's page;
    refused for its members unless they are platform administrators."""
    tenant, _ = await tenant_for(request, Action.TENANT_READ)
    platform_admin(request)
    return tenant


async def _list(
    request: web.Request,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int,
    notice: str | None = None,
) -> web.Response:
    pool = request.config_dict[POOL]
    rows, pager = await fetch_page(request, lambda limit, at: tenants.list_all(pool, limit, at))
    return await render(
        request,
        "tenants_list.html",
        status,
        tenants=rows,
        pager=pager,
        plans=_plans(request, None),
        values=values,
        errors=errors,
        notice=notice,
    )


async def _edit(
    request: web.Request,
    tenant: Tenant,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int,
    notice: str | None = None,
) -> web.Response:
    return await render(
        request,
        "tenant_edit.html",
        status,
        tenant=tenant,
        plans=_plans(request, tenant),
        plan_limits=_plan_limits(request.config_dict[CONFIG].plans.get(tenant.plan)),
        models=model_choices.for_tenant(request, tenant),
        values=values,
        errors=errors,
        notice=notice,
    )


def _plans(request: web.Request, tenant: Tenant | None) -> list[str]:
    """The configured plans, and the tenant's own should it no longer be one of them."""
    plans = list(request.config_dict[CONFIG].plans)
    if tenant is not None and tenant.plan not in plans:
        plans.append(tenant.plan)
    return plans


def _plan_limits(plan: PlanConfig | None) -> str:
    if plan is None:
        return "none"
    limits = [
        f"{value:,} {unit}"
        for value, unit in (
            (plan.rpm, "requests a minute"),
            (plan.tpm, "tokens a minute"),
            (plan.max_parallel, "requests at once"),
            (plan.monthly_requests, "requests a month"),
            (plan.monthly_tokens, "tokens a month"),
        )
        if value is not None
    ]
    return ", ".join(limits) or "none"


def _check_plan(request: web.Request, plan: str, tenant: Tenant | None) -> None:
    plans = _plans(request, tenant)
    if plan not in plans:
        raise InvalidRequest(f"plan must be one of: {', '.join(plans)}", param="plan")


ROUTES = (
    Route("GET", "/tenants", tenants_page),
    Route("POST", "/tenants", create_tenant),
    Route("GET", "/tenants/{tenant}", tenant_page),
    Route("POST", "/tenants/{tenant}", update_tenant),
    Route("GET", "/tenants/{tenant}/suspend", suspend_page),
    Route("POST", "/tenants/{tenant}/suspend", suspend_tenant),
    Route("POST", "/tenants/{tenant}/activate", activate_tenant),
)
LINKS = (Link("Tenants", PAGE, "platform", order=10),)
