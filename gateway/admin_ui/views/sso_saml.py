"""SAML 2.0 sign-in: the console's service provider metadata, the assertion consumer
service the identity provider posts its answer to, and the step back into the console.

The answer arrives as a POST from the provider's site. It proves itself (a signed assertion
answering a request the console made, once), so it needs no CSRF token; but such a POST
carries none of the console's SameSite cookies, so the verified identity is kept under the
request's id and the browser continues to `finish`, a navigation of the console's own that
brings the flow cookie naming that request. Only then does anyone get signed in: an answer
planted in someone else's browser finds no flow there.
"""

from __future__ import annotations

from aiohttp import web

from gateway.admin_ui.routing_table import Route
from gateway.admin_ui.sessions import redirect
from gateway.admin_ui.views.auth import safe_next
from gateway.admin_ui.views.sso_settings import SAML_ACS_PATH, SAML_METADATA_PATH
from gateway.appkeys import POOL
from gateway.errors import NotFound
from gateway.sso import flow, outcome, provisioning, saml
from gateway.sso.identity import Identity
from gateway.sso.refusal import SignInRefused
from gateway.sso.services import SSO
from gateway.store import sso, tenants
from gateway.store.records import Tenant
from gateway.store.sso import SsoConfig

FINISH_PATH = "/admin/sso/saml/finish"
_START_AGAIN = (
    "This answer is not for a sign-in in progress in this browser: it expired, was used "
    "already, or was never asked for. Please start again from the sign-in page."
)


def _check_available(request: web.Request) -> None:
    if request.app[SSO].saml_problem:
        raise SignInRefused(
            "saml_unavailable", "SAML sign-in is not available on this server.", status=503
        )


def _service_provider(request: web.Request) -> saml.ServiceProvider:
    return saml.ServiceProvider(
        flow.console_url(request, SAML_METADATA_PATH), flow.console_url(request, SAML_ACS_PATH)
    )


def _http_request(request: web.Request, form: dict[str, str]) -> saml.HttpRequest:
    """The request as the identity provider addressed it (its Destination is checked)."""
    scheme, host, prefix = flow.console_address(request)
    return saml.HttpRequest(scheme == "https", host, prefix + request.path, form)


async def send_to_identity_provider(
    request: web.Request, tenant: Tenant, config: SsoConfig, next_page: str
) -> web.StreamResponse:
    _check_available(request)
    url, request_id = saml.authn_request(
        _service_provider(request), config, _http_request(request, {})
    )
    minutes = flow.LIFETIME_SECONDS // 60
    await sso.saml_request_create(request.config_dict[POOL], request_id, tenant.id, minutes)
    response = redirect(url)
    flow.put(request, response, flow.Flow("saml", tenant.slug, next_page, request_id=request_id))
    return response


async def metadata(request: web.Request) -> web.Response:
    try:
        _check_available(request)
        xml = saml.metadata(_service_provider(request))
    except SignInRefused:
        raise NotFound("SAML sign-in is not available on this server.") from None
    return web.Response(text=xml, content_type="application/samlmetadata+xml")


async def assertion_consumer(request: web.Request) -> web.StreamResponse:
    pool = request.config_dict[POOL]
    posted = (await request.post()).get("SAMLResponse")
    tenant_id = None
    try:
        _check_available(request)
        if not isinstance(posted, str) or not posted:
            raise SignInRefused("saml_missing", _START_AGAIN, status=400)
        request_id = saml.in_response_to(posted)
        tenant_id = await sso.saml_request_tenant(pool, request_id) if request_id else None
        if tenant_id is None or request_id is None:
            raise SignInRefused("saml_unsolicited", _START_AGAIN, status=400)
        config = (await sso.get(pool, tenant_id)).config
        _check_enabled(config)
        identity = await saml.verify(
            _service_provider(request),
            config,
            _http_request(request, {"SAMLResponse": posted}),
            request_id,
        )
        if not await sso.saml_request_answer(pool, request_id, tenant_id, identity.as_json()):
            raise SignInRefused("saml_replayed", _START_AGAIN, status=400)
    except SignInRefused as exc:
        return await outcome.refused(request, exc, "saml", tenant_id, end_flow=False)
    return await outcome.continue_page(request, FINISH_PATH)


async def finish(request: web.Request) -> web.StreamResponse:
    pool = request.config_dict[POOL]
    started = flow.read(request)
    tenant = await tenants.get_by_slug(pool, started.tenant) if started else None
    try:
        if started is None or started.protocol != "saml" or tenant is None:
            raise SignInRefused("flow_missing", _START_AGAIN, status=400)
        answered = await sso.saml_request_take(pool, started.request_id)
        if answered is None or answered[0] != tenant.id:
            raise SignInRefused("saml_not_answered", _START_AGAIN, status=400)
        config = (await sso.get(pool, tenant.id)).config
        _check_enabled(config)
        identity = Identity.from_json(answered[1])
        user = await provisioning.admit(pool, tenant, config, identity, "saml", request.remote)
    except SignInRefused as exc:
        return await outcome.refused(request, exc, "saml", tenant.id if tenant else None)
    # Same-site from here on: the session cookie set with this redirect comes along.
    return await outcome.signed_in(request, redirect(safe_next(started.next)), user, "saml", tenant)


def _check_enabled(config: SsoConfig) -> None:
    if not config.enabled or config.protocol != "saml":
        raise SignInRefused("not_configured", "Single sign-on is not set up for this tenant.")


ROUTES = (
    Route("GET", "/sso/saml/metadata", metadata, public=True),
    Route("POST", "/sso/saml/acs", assertion_consumer, public=True, csrf_exempt=True),
    Route("GET", "/sso/saml/finish", finish, public=True),
)
