"""With `admin.public_url` set, single sign-on's addresses are the configured ones: a forged
Host header changes neither what the console tells identity providers nor which SAML
answers it accepts."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.demo import demo_routing
from tests.admin_api.world import World, build_world
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console
from tests.admin_ui.sso_steps import start
from tests.admin_ui.test_sso_saml import FROM_THE_IDP, configure_saml, post_to_acs
from tests.conftest import GatewayFactory
from tests.fakes.saml_idp import SamlIdp

PUBLIC = "https://console.example/gw"
FORGED_HOST = "evil.example"


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    base_url = await start_gateway(
        demo_routing().model_dump(mode="json"),
        admin={"sso_private_networks": True, "public_url": PUBLIC},
    )
    return await build_world(base_url, pg_dsn)


async def test_saml_addresses_come_from_the_public_url_not_the_host_header(
    world: World, console: ConsoleFactory
) -> None:
    idp = SamlIdp.create()
    saved = await configure_saml(await console("owner"), idp, jit="on")
    assert saved.status == 200, saved.text()
    client = Console(world.root)
    try:
        metadata_url = world.root + "/admin/sso/saml/metadata"
        async with client.session.get(metadata_url, headers={"Host": FORGED_HOST}) as response:
            root = etree.fromstring(await response.read())
        assert root.get("entityID") == PUBLIC + "/admin/sso/saml/metadata"
        status, location, _ = await start(client, "ada@a.example", "/admin/t/a/keys")
        assert status == 303
        request_id, acs_url = idp.read_request(location)
        assert acs_url == PUBLIC + "/admin/sso/saml/acs"
        # An answer addressed to what the forged Host would make of the console.
        forged = idp.response(
            request_id,
            acs_url=f"http://{FORGED_HOST}/admin/sso/saml/acs",
            audience=f"http://{FORGED_HOST}/admin/sso/saml/metadata",
            email="ada@a.example",
        )
        refused = await client.post(
            "/admin/sso/saml/acs",
            {"SAMLResponse": forged},
            csrf=False,
            headers={**FROM_THE_IDP, "Host": FORGED_HOST},
        )
        assert refused.status == 400 and "could not be accepted" in refused.text()
        genuine = idp.response(
            request_id,
            acs_url=acs_url,
            audience=PUBLIC + "/admin/sso/saml/metadata",
            email="ada@a.example",
        )
        accepted = await post_to_acs(client, genuine)
        assert accepted.status == 200, accepted.text()
    finally:
        await client.close()


async def test_the_oidc_redirect_uri_shown_is_the_public_one(console: ConsoleFactory) -> None:
    page = await (await console("owner")).get("/admin/t/a/sso")
    shown = page.html.select_one("code.callback-url")
    assert shown is not None and shown.get_text() == PUBLIC + "/admin/sso/oidc/callback"
