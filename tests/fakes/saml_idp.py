"""A SAML 2.0 identity provider in a test: its own key and self-signed certificate, and
responses with an assertion it signs (RSA-SHA256, through python3-saml and xmlsec) for a
request the service provider made.

    idp = SamlIdp.create()
    request_id = idp.read_request(location)  # the AuthnRequest the console redirected to
    posted = idp.response(request_id, acs_url=..., audience=..., email="ada@a.example")
"""

from __future__ import annotations

import base64
import datetime
import secrets
from dataclasses import dataclass

from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from yarl import URL

from tests.fakes.certs import self_signed

ENTITY_ID = "https://idp.a.example/saml"
SSO_URL = "https://idp.a.example/saml/sso"
_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


@dataclass(frozen=True)
class SamlIdp:
    key_pem: str
    cert_pem: str
    entity_id: str = ENTITY_ID
    sso_url: str = SSO_URL

    @classmethod
    def create(cls) -> SamlIdp:
        return cls(*self_signed("test idp"))

    def read_request(self, location: str) -> tuple[str, str]:
        """The ID and AssertionConsumerServiceURL of the AuthnRequest in a redirect."""
        url = URL(location)
        assert str(url.with_query(None)) == self.sso_url, location
        xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(url.query["SAMLRequest"])
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
        assert root.tag == f"{{{_SAMLP}}}AuthnRequest"
        return root.get("ID"), root.get("AssertionConsumerServiceURL")

    def response(
        self,
        request_id: str,
        *,
        acs_url: str,
        audience: str,
        email: str,
        groups: tuple[str, ...] = (),
        tamper: tuple[str, str] | None = None,
    ) -> str:
        """The base64 `SAMLResponse` form field; `tamper` replaces text after signing."""
        assertion = self._signed_assertion(request_id, acs_url, audience, email, groups)
        if tamper is not None:
            assertion = assertion.replace(*tamper)
        now = _instant(0)
        response = (
            f'<samlp:Response xmlns:samlp="{_SAMLP}" '
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{now}" '
            f'Destination="{acs_url}" InResponseTo="{request_id}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{assertion}</samlp:Response>"
        )
        return base64.b64encode(response.encode()).decode()

    def _signed_assertion(
        self, request_id: str, acs_url: str, audience: str, email: str, groups: tuple[str, ...]
    ) -> str:
        values = "".join(f"<saml:AttributeValue>{g}</saml:AttributeValue>" for g in groups)
        assertion = (
            '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{_instant(0)}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            "<saml:Subject>"
            '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
            f"{email}</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{_instant(300)}" '
            f'Recipient="{acs_url}" InResponseTo="{request_id}"/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(-60)}" NotOnOrAfter="{_instant(300)}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(0)}" SessionIndex="_session">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            '<saml:AttributeStatement><saml:Attribute Name="groups">'
            f"{values}</saml:Attribute></saml:AttributeStatement>"
            "</saml:Assertion>"
        )
        signed = OneLogin_Saml2_Utils.add_sign(assertion, self.key_pem, self.cert_pem)
        text = signed.decode() if isinstance(signed, bytes) else str(signed)
        return text.split("?>", 1)[1] if text.startswith("<?xml") else text


def _instant(offset_seconds: int) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
