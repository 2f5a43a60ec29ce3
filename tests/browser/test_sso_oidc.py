"""OpenID Connect sign-in in a real browser, end to end: an owner sets the tenant's SSO up on
its settings page, then someone new signs in through the identity provider in
tests/fakes/oidc_idp.py (RS256 id_tokens from its own JWKS) and lands in the console with
the role its groups map to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from tests.admin_api.world import World
from tests.browser.conftest import Screenshot, sections, sign_in
from tests.fakes.oidc_idp import Idp, start_idp


@pytest.fixture
async def idp() -> AsyncIterator[Idp]:
    provider = await start_idp()
    yield provider
    await provider.close()


async def test_someone_new_signs_in_with_the_tenants_identity_provider(
    page: Page, world: World, idp: Idp, screenshot: Screenshot
) -> None:
    await sign_in(page, "owner")
    await page.goto("/admin/t/a/members")
    await sections(page).get_by_role("link", name="Single sign-on").click()
    await page.get_by_label("Single sign-on is on").check()
    await page.get_by_role("radio", name="OpenID Connect").check()
    await page.get_by_label("Issuer URL").fill(idp.issuer)
    await page.get_by_label("Client id").fill(idp.client_id)
    await page.get_by_label("Client secret").fill(idp.client_secret)
    await page.get_by_label("Allowed email domains").fill("a.example")
    await page.get_by_label("Create accounts on first sign-in").check()
    await page.get_by_label("Default role").select_option("viewer")
    await page.get_by_label("Roles from groups").fill("platform-team admin")
    await page.get_by_role("button", name="Save single sign-on settings").click()
    await expect(page.get_by_role("status")).to_be_visible()
    await expect(page.get_by_label("Client secret")).to_have_value("")
    await screenshot(page, "sso-settings")
    await page.get_by_role("button", name="Sign out").click()

    idp.sign_in_as("ada@a.example", groups=["platform-team"])
    await page.goto("/admin/login?next=/admin/t/a/keys")
    await page.get_by_label("Tenant, or your work address").fill("ada@a.example")
    await page.get_by_role("button", name="Continue with SSO").click()
    await expect(page).to_have_url("/admin/t/a/keys")
    await expect(page.get_by_role("navigation", name="Account")).to_contain_text("ada@a.example")
    await expect(page.get_by_role("heading", name="API keys of Tenant A")).to_be_visible()
    assert idp.token_requests[-1]["code_verifier"], "the code was redeemed with PKCE"

    status, members = await world.call("owner", "GET", "/tenants/a/members")
    assert status == 200
    assert {m["email"]: m["role"] for m in members["data"]}["ada@a.example"] == "admin"
