"""The admin API's route table and its sub-application."""

from __future__ import annotations

from aiohttp import web

from gateway.admin_api import (
    access,
    audit,
    keys,
    members,
    routing,
    session,
    tenants,
    usage,
    users,
)

PREFIX = "/admin/api"


def create_admin_api(master_key: str, token_secret: str) -> web.Application:
    api = web.Application(middlewares=[access.make_middleware(master_key, token_secret)])
    api[session.TOKEN_SECRET] = token_secret
    r = api.router
    r.add_post("/login", session.login)
    r.add_get("/tenants", tenants.list_tenants)
    r.add_post("/tenants", tenants.create_tenant)
    r.add_get("/tenants/{tenant}", tenants.get_tenant)
    r.add_patch("/tenants/{tenant}", tenants.update_tenant)
    r.add_post("/tenants/{tenant}/suspend", tenants.suspend_tenant)
    r.add_post("/tenants/{tenant}/activate", tenants.activate_tenant)
    r.add_put("/tenants/{tenant}/alert-webhook", tenants.set_alert_webhook)
    r.add_get("/tenants/{tenant}/members", members.list_members)
    r.add_post("/tenants/{tenant}/members", members.add_member)
    r.add_put("/tenants/{tenant}/members/{user_id}", members.change_member)
    r.add_delete("/tenants/{tenant}/members/{user_id}", members.remove_member)
    r.add_get("/tenants/{tenant}/keys", keys.list_keys)
    r.add_post("/tenants/{tenant}/keys", keys.create_key)
    r.add_get("/tenants/{tenant}/keys/{key_id}", keys.get_key)
    r.add_post("/tenants/{tenant}/keys/{key_id}/revoke", keys.revoke_key)
    r.add_get("/tenants/{tenant}/audit", audit.tenant_audit)
    r.add_get("/tenants/{tenant}/usage", usage.tenant_usage)
    r.add_get("/users", users.list_users)
    r.add_post("/users", users.create_user)
    r.add_get("/audit", audit.platform_audit)
    r.add_get("/usage", usage.platform_usage)
    r.add_get("/routing", routing.routing_state)
    r.add_post("/routing/reload", routing.reload_routing)
    return api
