"""How a single sign-on ends in the console: signed in, or refused with a page saying why.
Both are written to the audit log, under the tenant whose identity provider was used."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from gateway.admin_ui import sessions
from gateway.admin_ui.render import render
from gateway.appkeys import POOL
from gateway.management import sign_in
from gateway.sso import flow
from gateway.sso.refusal import SignInRefused, record
from gateway.store.records import Tenant, User


async def refused(
    request: web.Request,
    refusal: SignInRefused,
    method: str,
    tenant_id: UUID | None,
    *,
    end_flow: bool = True,
) -> web.Response:
    """The page saying why. `end_flow` False: the browser's flow stays (the SAML answer's
    POST, which a third party can make, must not cancel someone's sign-in in progress)."""
    await record(request.config_dict[POOL], refusal, method, tenant_id, request.remote)
    response = await render(request, "sso_refused.html", refusal.status, message=refusal.message)
    if end_flow:
        flow.clear(response)
    return response


async def signed_in(
    request: web.Request,
    response: web.StreamResponse,
    user: User,
    method: str,
    tenant: Tenant,
) -> web.StreamResponse:
    """Starts the session on `response` (the page that continues to the console)."""
    await sessions.start(request, response, user.id, method, pending=False)
    await sign_in.succeeded(
        request.config_dict[POOL], None, user, method, request.remote, tenant_id=tenant.id
    )
    flow.clear(response)
    return response


async def continue_page(request: web.Request, target: str) -> web.Response:
    """The identity provider brought the browser here from its own site, and a browser
    sends no `SameSite=Strict` cookie on any step of a redirect chain another site started.
    This page continues with a navigation of the console's own, which does carry it."""
    return await render(request, "sso_continue.html", target=target)
