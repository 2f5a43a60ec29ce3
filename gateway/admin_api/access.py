"""Who is calling the admin API, and the one place that decides what they may touch.

Every handler of a tenant's objects gets the tenant through `tenant_for`, which applies the
role table. A tenant the caller is not a member of answers 404, exactly like one that does not
exist, so tenant slugs cannot be probed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.admin_api import tokens
from gateway.appkeys import POOL
from gateway.errors import AuthenticationError, NotFound, PermissionDenied
from gateway.middleware.auth import presented_key
from gateway.roles import Action, Role, allows
from gateway.store import tenants, users
from gateway.store.audit import Actor
from gateway.store.records import Tenant, User

PUBLIC_PATHS = frozenset({"/admin/api/login"})
_INVALID = "Invalid or expired admin credentials. Send 'Authorization: Bearer <token>'."


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    user: User | None  # None: the master key
    platform_admin: bool
    ip: str | None

    @property
    def actor(self) -> Actor:
        if self.user is None:
            return Actor(type="master", label="master key", ip=self.ip)
        return Actor(type="user", id=str(self.user.id), label=self.user.email, ip=self.ip)


ADMIN = web.RequestKey("admin_principal", AdminPrincipal)


def make_middleware(master_key: str, token_secret: str) -> Middleware:
    master = master_key.encode()

    @web.middleware
    async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.match_info.http_exception:
            return await handler(request)
        credential = presented_key(request)
        if credential is None:
            raise AuthenticationError(_INVALID)
        if hmac.compare_digest(credential.encode(), master):
            request[ADMIN] = AdminPrincipal(None, True, request.remote)
            return await handler(request)
        try:
            user_id = tokens.verify(token_secret, credential)
        except tokens.TokenError:
            raise AuthenticationError(_INVALID) from None
        user = await users.get(request.config_dict[POOL], user_id)
        if user is None:
            raise AuthenticationError(_INVALID)
        request[ADMIN] = AdminPrincipal(user, user.is_platform_admin, request.remote)
        return await handler(request)

    return admin_auth


async def tenant_for(request: web.Request, action: Action) -> tuple[Tenant, AdminPrincipal]:
    """The tenant named in the URL, if the caller may perform `action` in it."""
    principal = request[ADMIN]
    pool = request.config_dict[POOL]
    slug = request.match_info["tenant"]
    tenant = await tenants.get_by_slug(pool, slug)
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}", param="tenant")
    if principal.platform_admin or principal.user is None:
        return tenant, principal
    role = await users.role_in(pool, tenant.id, principal.user.id)
    if role is None:
        raise NotFound(f"no tenant {slug!r}", param="tenant")
    if not allows(Role(role), action):
        raise PermissionDenied(f"your role ({role}) may not do {action.value} here")
    return tenant, principal


def platform_admin(request: web.Request) -> AdminPrincipal:
    principal = request[ADMIN]
    if not principal.platform_admin:
        raise PermissionDenied("only platform administrators may do this")
    return principal


async def role_of(request: web.Request, tenant: Tenant) -> Role | None:
    """The caller's role in `tenant`; None for platform administrators who are not members."""
    principal = request[ADMIN]
    if principal.user is None:
        return None
    role = await users.role_in(request.config_dict[POOL], tenant.id, principal.user.id)
    return Role(role) if role else None


async def may(request: web.Request, tenant: Tenant, action: Action) -> bool:
    """Whether the caller may do `action` in `tenant`, for offering only what will work;
    the handler of the action still decides through `tenant_for`."""
    principal = request[ADMIN]
    if principal.platform_admin or principal.user is None:
        return True
    return allows(await role_of(request, tenant), action)


async def owner_rights(request: web.Request, tenant: Tenant) -> bool:
    """Owners and platform administrators may grant, change or remove the owner role."""
    return request[ADMIN].platform_admin or await role_of(request, tenant) == Role.OWNER
