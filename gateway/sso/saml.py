"""SAML 2.0 sign-in as a service provider, through python3-saml (OneLogin) and xmlsec.

Its functions import python3-saml when called, and are called only where
`saml_support.problem()` found the libraries: the console works without them. The console
is one service provider for every tenant: its entity id is its metadata URL, its assertion
consumer service one address, and which tenant an answer belongs to is known from the
request it answers (IdP-initiated sign-in is not accepted: an unsolicited assertion can be
planted in someone's browser).

Answers must be signed assertions (RSA-SHA256 or better) from the tenant's IdP certificate,
for this service provider, in answer to a request the console made, within their validity.
The library's checks run in a thread: parsing XML and verifying signatures is CPU work.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from gateway.sso.identity import Identity, group_names
from gateway.sso.refusal import SignInRefused
from gateway.store.sso import SsoConfig

# Where providers commonly put the address, when the NameID is not one.
EMAIL_ATTRIBUTES = (
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
)
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
_NOT_ACCEPTED = "Your identity provider's answer could not be accepted. Please try again."


@dataclass(frozen=True, slots=True)
class ServiceProvider:
    entity_id: str  # the metadata URL, as is customary
    acs_url: str


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What python3-saml needs of the request to check the response's Destination."""

    https: bool
    host: str  # with the port, when not the scheme's default
    path: str
    form: dict[str, str]

    def as_request_data(self) -> dict[str, Any]:
        return {
            "https": "on" if self.https else "off",
            "http_host": self.host,
            "script_name": self.path,
            "get_data": {},
            "post_data": self.form,
        }


def metadata(sp: ServiceProvider) -> str:
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    settings = OneLogin_Saml2_Settings(_settings(sp, None), sp_validation_only=True)
    xml: str = settings.get_sp_metadata()
    return xml


def authn_request(sp: ServiceProvider, config: SsoConfig, request: HttpRequest) -> tuple[str, str]:
    """The IdP address to send the browser to (HTTP-Redirect binding), and the request's id."""
    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    auth = OneLogin_Saml2_Auth(request.as_request_data(), _settings(sp, config))
    url: str = auth.login(return_to="")
    return url, auth.get_last_request_id()


def in_response_to(saml_response: str) -> str | None:
    """The request an answer claims to answer: only to find its tenant, before verifying."""
    from onelogin.saml2.utils import OneLogin_Saml2_Utils
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    try:
        root = OneLogin_Saml2_XML.to_etree(OneLogin_Saml2_Utils.b64decode(saml_response))
    except Exception as exc:  # the library raises bare Exception for malformed XML
        raise SignInRefused("saml_malformed", _NOT_ACCEPTED, status=400) from exc
    value = root.get("InResponseTo")
    return str(value) if value else None


async def verify(
    sp: ServiceProvider, config: SsoConfig, request: HttpRequest, request_id: str
) -> Identity:
    return await asyncio.to_thread(_verify, sp, config, request, request_id)


def _verify(
    sp: ServiceProvider, config: SsoConfig, request: HttpRequest, request_id: str
) -> Identity:
    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    auth = OneLogin_Saml2_Auth(request.as_request_data(), _settings(sp, config))
    auth.process_response(request_id=request_id)
    if auth.get_errors() or not auth.is_authenticated():
        reason = (auth.get_last_error_reason() or "invalid")[:200]
        raise SignInRefused(f"saml_invalid: {reason}", _NOT_ACCEPTED, status=400)
    attributes: dict[str, list[str]] = auth.get_attributes()
    email = next((attributes[name][0] for name in EMAIL_ATTRIBUTES if attributes.get(name)), None)
    name_id = str(auth.get_nameid() or "")
    email = email or (name_id if "@" in name_id else None)
    if not email:
        raise SignInRefused(
            "email_missing", "Your identity provider did not share your email address."
        )
    return Identity(email, group_names(attributes.get(config.groups_claim)), name_id)


def _settings(sp: ServiceProvider, config: SsoConfig | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": BINDING_POST},
            "NameIDFormat": NAMEID_UNSPECIFIED,
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "rejectDeprecatedAlgorithm": True,  # no SHA-1 signatures or digests
            "requestedAuthnContext": False,  # let the IdP pick (MFA, passkeys...)
            "allowRepeatAttributeName": True,
            "allowSingleLabelDomains": True,  # http://localhost during development
        },
    }
    if config is not None:
        settings["idp"] = {
            "entityId": config.saml_idp_entity_id,
            "singleSignOnService": {
                "url": config.saml_sso_url,
                "binding": BINDING_REDIRECT,
            },
            "x509cert": config.saml_x509_cert,
        }
    return settings
