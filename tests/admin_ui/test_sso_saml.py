"""SAML 2.0 sign-in to the console: the service provider's metadata, an assertion signed by
the tenant's identity provider accepted, a tampered, replayed or planted one refused."""

from __future__ import annotations

from typing import Any

from lxml import etree

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console, Page
from tests.admin_ui.sso_steps import audit_rows, role_of, start
from tests.fakes.saml_idp import SamlIdp

PAGE = "/admin/t/a/sso"
# As the identity provider's page posts it: from its own site, with no CSRF token.
FROM_THE_IDP = {"Origin": "https://idp.a.example", "Sec-Fetch-Site": "cross-site"}


async def configure_saml(owner: Console, idp: SamlIdp, **changes: Any) -> Page:
    page = await owner.get(PAGE)
    fields = {
        "enabled": "on",
        "protocol": "saml",
        "saml_idp_entity_id": idp.entity_id,
        "saml_sso_url": idp.sso_url,
        "saml_x509_cert": idp.cert_pem,
        "allowed_domains": "a.example",
    } | changes
    return await owner.submit(page, PAGE, **fields)


async def post_to_acs(client: Console, saml_response: str) -> Page:
    return await client.post(
        "/admin/sso/saml/acs",
        {"SAMLResponse": saml_response},
        csrf=False,
        headers=FROM_THE_IDP,
    )


async def test_the_service_provider_publishes_its_metadata(world: World) -> None:
    client = Console(world.root)
    try:
        async with client.session.get(world.root + "/admin/sso/saml/metadata") as response:
            assert response.status == 200
            assert response.content_type == "application/samlmetadata+xml"
            root = etree.fromstring(await response.read())
    finally:
        await client.close()
    assert root.get("entityID") == world.root + "/admin/sso/saml/metadata"
    acs = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService")
    assert acs is not None and acs.get("Location") == world.root + "/admin/sso/saml/acs"


async def test_a_signed_assertion_signs_in_and_a_tampered_or_replayed_one_does_not(
    world: World, console: ConsoleFactory, pg_dsn: str
) -> None:
    idp = SamlIdp.create()
    saved = await configure_saml(
        await console("owner"), idp, jit="on", group_roles="gateway-admins admin"
    )
    assert saved.status == 200 and "settings saved" in saved.text(), saved.text()
    client = Console(world.root)
    try:
        status, location, _ = await start(client, "ada@a.example", "/admin/t/a/keys")
        assert status == 303
        request_id, acs_url = idp.read_request(location)
        assert acs_url == world.root + "/admin/sso/saml/acs"
        answer = {
            "acs_url": acs_url,
            "audience": world.root + "/admin/sso/saml/metadata",
            "email": "ada@a.example",
            "groups": ("gateway-admins",),
        }
        tampered = idp.response(request_id, **answer, tamper=("ada@a.example", "owner@a.example"))
        refused = await post_to_acs(client, tampered)
        assert refused.status == 400 and "could not be accepted" in refused.text()

        genuine = idp.response(request_id, **answer)
        accepted = await post_to_acs(client, genuine)
        assert accepted.status == 200, accepted.text()
        continue_to = accepted.html.select_one("a.continue")["href"]
        assert continue_to == "/admin/sso/saml/finish"
        page = await client.get(continue_to)
        assert page.status == 200 and page.url.endswith("/admin/t/a/keys"), page.text()
        assert "ada@a.example" in page.text()

        replayed = await post_to_acs(client, genuine)
        assert replayed.status == 400 and "start again" in replayed.text()
    finally:
        await client.close()
    assert await role_of(pg_dsn, "ada@a.example") == "admin"
    login = (await audit_rows(pg_dsn, "user.login"))[-1]
    assert login["changes"] == {"method": "saml"} and login["actor_label"] == "ada@a.example"
    reasons = [r["changes"]["reason"] for r in await audit_rows(pg_dsn, "user.login_failed")]
    assert reasons == [
        "saml_invalid: Signature validation failed. SAML Response rejected",
        "saml_unsolicited",
    ]


async def test_an_answer_planted_in_another_browser_signs_nobody_in(
    world: World, console: ConsoleFactory
) -> None:
    """Login CSRF: someone's own valid answer posted from a victim's browser."""
    idp = SamlIdp.create()
    await configure_saml(await console("owner"), idp)
    attacker, victim = Console(world.root), Console(world.root)
    try:
        _, location, _ = await start(attacker, "a")
        request_id, acs_url = idp.read_request(location)
        planted = idp.response(
            request_id,
            acs_url=acs_url,
            audience=world.root + "/admin/sso/saml/metadata",
            email="member@a.example",
        )
        continued = await post_to_acs(victim, planted)
        assert continued.status == 200
        page = await victim.get("/admin/sso/saml/finish")
        assert page.status == 400 and "start again" in page.text()
        assert "/admin/login" in (await victim.get("/admin/account")).url
    finally:
        await attacker.close()
        await victim.close()
