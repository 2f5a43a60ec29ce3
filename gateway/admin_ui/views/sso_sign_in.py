"""Signing in with a tenant's identity provider: the sign-in page's SSO box starts here, and
OpenID Connect providers send the browser back to the callback.

The start finds the tenant (by its slug, or the domain of a work address), remembers the
flow in the browser (`gateway.sso.flow`) and sends the browser to the provider. The callback
checks the state against that cookie before anything else, then has the code exchanged and
the id_token verified (`gateway.sso.oidc`), lets `gateway.sso.provisioning` decide who this
is, and opens the session.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from pydantic import Field

from gateway.admin_ui import forms
from gateway.admin_ui.render import render
from gateway.admin_ui.routing_table import Route
from gateway.admin_ui.sessions import redirect
from gateway.admin_ui.views.auth import HOME, safe_next
from gateway.admin_ui.views.sso_saml import send_to_identity_provider
from gateway.admin_ui.views.sso_settings import CALLBACK_PATH
from gateway.appkeys import POOL, THROTTLE
from gateway.sso import flow, oidc, outcome, provisioning
from gateway.sso.refusal import SignInRefused
from gateway.sso.services import SSO
from gateway.store import sso, tenants
from gateway.store.records import Tenant
from gateway.store.sso import SsoConfig

_NO_SSO = "{} does not use single sign-on here. Check the name, or sign in with your password."
_TOO_MANY = "Too many sign-ins named no tenant with single sign-on. Try again later."
_START_AGAIN = "This sign-in expired or was started in another browser. Please start again."


class StartForm(forms.Form):
    org: str = Field(max_length=320)  # a tenant's slug, or a work address
    next: str = HOME


async def start(request: web.Request) -> web.StreamResponse:
    try:
        form = forms.read_query(request, StartForm)
    except forms.FormErrors:
        return await _ask_again(request, "", "Enter your tenant's name or your work address.")
    next_page = safe_next(form.next)
    pool, throttle = request.config_dict[POOL], request.config_dict[THROTTLE]
    # Misses count like failed passwords: otherwise the box answers, as fast as it is asked,
    # which names are tenants and which domains sign in where.
    address = f"sso-start:{request.remote}"
    wait = throttle.retry_after(address)
    if wait > 0:
        page = await _ask_again(request, form.org, _TOO_MANY, next_page, status=429)
        page.headers["Retry-After"] = str(int(wait) + 1)
        return page
    slug, problem = await _tenant_slug(pool, form.org)
    tenant = await tenants.get_by_slug(pool, slug) if slug else None
    config = (await sso.get(pool, tenant.id)).config if tenant else None
    if tenant is None or config is None or not config.enabled:
        throttle.failed(address)
        return await _ask_again(request, form.org, problem or _NO_SSO.format(form.org), next_page)
    try:
        if config.protocol == "saml":
            return await send_to_identity_provider(request, tenant, config, next_page)
        return await _send_to_oidc_provider(request, tenant, config, next_page)
    except SignInRefused as exc:
        return await outcome.refused(request, exc, config.protocol, tenant.id)


async def _tenant_slug(pool: Any, org: str) -> tuple[str | None, str | None]:
    """The tenant named, or the one tenant whose SSO takes the address's domain."""
    if "@" not in org:
        return org.lower(), None
    domain = org.rpartition("@")[2].lower()
    slugs = await sso.tenants_for_domain(pool, domain)
    if len(slugs) == 1:
        return slugs[0], None
    if not slugs:
        return None, f"No tenant signs in addresses at {domain} with single sign-on."
    return None, f"Several tenants sign in addresses at {domain}: enter your tenant's name."


async def _send_to_oidc_provider(
    request: web.Request, tenant: Tenant, config: SsoConfig, next_page: str
) -> web.StreamResponse:
    services = request.app[SSO]
    redirect_uri = flow.console_url(request, CALLBACK_PATH)
    authorization = await oidc.authorization(services.providers, config, redirect_uri)
    response = redirect(authorization.url)
    flow.put(
        request,
        response,
        flow.Flow(
            "oidc",
            tenant.slug,
            next_page,
            state=authorization.state,
            nonce=authorization.nonce,
            code_verifier=authorization.code_verifier,
        ),
    )
    return response


async def oidc_callback(request: web.Request) -> web.StreamResponse:
    pool, services = request.config_dict[POOL], request.app[SSO]
    started = flow.read(request)
    tenant = await tenants.get_by_slug(pool, started.tenant) if started else None
    try:
        if started is None or started.protocol != "oidc" or tenant is None:
            raise SignInRefused("flow_missing", _START_AGAIN, status=400)
        state = request.query.get("state", "").encode()
        if not hmac.compare_digest(state, started.state.encode()):
            raise SignInRefused("state_mismatch", _START_AGAIN, status=400)
        config = (await sso.get(pool, tenant.id)).config
        secret = await _client_secret(request, tenant, config)
        if "error" in request.query or not request.query.get("code"):
            raise SignInRefused(
                "idp_refused", "Your identity provider did not sign you in.", status=400
            )
        identity = await oidc.sign_in(
            services.providers,
            services.client,
            config,
            secret,
            request.query["code"],
            flow.console_url(request, CALLBACK_PATH),
            oidc.Authorization("", started.state, started.nonce, started.code_verifier),
        )
        user = await provisioning.admit(pool, tenant, config, identity, "oidc", request.remote)
    except SignInRefused as exc:
        return await outcome.refused(request, exc, "oidc", tenant.id if tenant else None)
    response = await outcome.continue_page(request, safe_next(started.next))
    return await outcome.signed_in(request, response, user, "oidc", tenant)


async def _client_secret(request: web.Request, tenant: Tenant, config: SsoConfig) -> str:
    if not config.enabled or config.protocol != "oidc":
        raise SignInRefused("not_configured", "Single sign-on is not set up for this tenant.")
    ciphertext = await sso.client_secret(request.config_dict[POOL], tenant.id)
    secret = request.app[SSO].cipher.decrypt(tenant.id, ciphertext) if ciphertext else None
    if secret is None:
        raise SignInRefused(
            "client_secret_unreadable",
            "The tenant's SSO client secret cannot be read here (the console secret changed). "
            "Ask an owner to enter it again in the single sign-on settings.",
            status=500,
        )
    return secret


async def _ask_again(
    request: web.Request, org: str, message: str, next_page: str = HOME, status: int = 400
) -> web.Response:
    """The sign-in page again, with the SSO box's answer."""
    return await render(
        request,
        "login.html",
        status,
        errors={},
        next=next_page,
        org=org,
        sso_errors={"org": message},
    )


ROUTES = (
    Route("GET", "/sso/start", start, public=True),
    Route("GET", "/sso/oidc/callback", oidc_callback, public=True),
)
