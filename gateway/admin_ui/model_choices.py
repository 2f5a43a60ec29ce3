"""Which models a form offers to allow, and refusing a posted one it did not offer."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import ROUTING
from gateway.errors import InvalidRequest
from gateway.store.records import Tenant


def for_tenant(request: web.Request, tenant: Tenant) -> list[str]:
    """The routing table's models, and any the tenant is allowed that it no longer serves (so
    saving the form never drops them unasked)."""
    served = request.config_dict[ROUTING].table.groups
    return sorted({*served, *(tenant.allowed_models or ())})


def for_key(request: web.Request, tenant: Tenant) -> list[str]:
    """What a key may be limited to: its tenant's allowed models, or every served one."""
    if tenant.allowed_models is not None:
        return sorted(tenant.allowed_models)
    return sorted(request.config_dict[ROUTING].table.groups)


def check(chosen: list[str] | None, offered: list[str], param: str) -> None:
    unknown = sorted(set(chosen or ()) - set(offered))
    if unknown:
        raise InvalidRequest(f"{unknown[0]!r} is not one of the models offered", param=param)
