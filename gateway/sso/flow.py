"""A sign-in in progress, kept in the browser between leaving for the identity provider and
coming back: a short-lived cookie signed with the console secret.

It is `SameSite=Lax` where the session cookie is `Strict`: the provider sends the browser
back with a top-level GET from its own site, and a Strict cookie would not come along. It
binds the answer to the browser that asked (the OIDC `state`, the SAML request id), so an
answer captured or planted elsewhere is refused.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import time
from dataclasses import asdict, dataclass

import orjson
from aiohttp import web
from yarl import URL

from gateway.admin_ui import sessions
from gateway.appkeys import CONFIG

logger = logging.getLogger(__name__)

COOKIE = "mb_sso"
# A page can build several addresses: one warning for it is enough.
_HOST_WARNED = web.RequestKey("sso_host_warned", bool)
LIFETIME_SECONDS = 600
_PURPOSE = "sso-flow"


@dataclass(frozen=True, slots=True)
class Flow:
    protocol: str  # "oidc" or "saml"
    tenant: str  # the tenant's slug
    next: str  # the console page to open afterwards
    state: str = ""
    nonce: str = ""
    code_verifier: str = ""
    request_id: str = ""  # SAML's AuthnRequest ID
    expires: int = 0


def put(request: web.Request, response: web.StreamResponse, flow: Flow) -> None:
    stamped = Flow(**(asdict(flow) | {"expires": int(time.time()) + LIFETIME_SECONDS}))
    payload = base64.urlsafe_b64encode(orjson.dumps(asdict(stamped))).decode()
    signed = request.app[sessions.SIGNER].sign(_PURPOSE, payload)
    sessions.set_cookie(
        request, response, COOKIE, signed, max_age=LIFETIME_SECONDS, same_site="Lax"
    )


def read(request: web.Request) -> Flow | None:
    """The flow this browser started, if its cookie is genuine and fresh. Whatever the
    answer, the caller `clear`s the cookie: one flow serves one answer."""
    payload = request.app[sessions.SIGNER].unsign(_PURPOSE, request.cookies.get(COOKIE))
    if payload is None:
        return None
    try:
        flow = Flow(**orjson.loads(base64.urlsafe_b64decode(payload)))
    except (binascii.Error, ValueError, TypeError):
        return None
    return flow if flow.expires > time.time() else None


def clear(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=sessions.COOKIE_PATH)


def console_address(request: web.Request) -> tuple[str, str, str]:
    """Scheme, host (with a port that is not the scheme's default) and path prefix where
    browsers and identity providers reach the console: `admin.public_url` when set, else as
    this request came (its Host header, chosen by the client)."""
    public_url = request.config_dict[CONFIG].admin.public_url
    if public_url is not None:
        url = URL(str(public_url))
        return url.scheme, url.host_port_subcomponent or "", url.path.rstrip("/")
    if not _is_local(request.url.host) and _HOST_WARNED not in request:
        request[_HOST_WARNED] = True
        logger.warning(
            "admin.public_url is not set: single sign-on addresses come from the Host header "
            "the client sent; set it wherever the console is reached from other machines"
        )
    return ("https" if sessions.is_tls(request) else "http"), request.host, ""


def _is_local(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def console_url(request: web.Request, path: str) -> str:
    """An absolute address of the console: what identity providers are told to send people
    back to."""
    scheme, host, prefix = console_address(request)
    return f"{scheme}://{host}{prefix}{path}"
