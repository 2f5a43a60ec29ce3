"""Changing a member's role in a real browser, and the change taking effect."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.admin_api.world import World
from tests.browser.conftest import Screenshot, sign_in


async def test_an_owner_changes_a_members_role(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    await sign_in(page, "owner")
    await page.goto("/admin/t/a/members")
    await screenshot(page, "members")

    role = page.get_by_label("Role of member@a.example")
    await expect(role).to_have_value("member")
    await role.select_option("viewer")
    await page.get_by_role("row").filter(has=role).get_by_role("button", name="Change role").click()
    await expect(page.get_by_role("status")).to_have_text("member@a.example is now viewer.")
    await page.reload()
    await expect(page.get_by_label("Role of member@a.example")).to_have_value("viewer")

    status, members = await world.call("owner", "GET", "/tenants/a/members")
    assert status == 200
    assert {m["email"]: m["role"] for m in members["data"]}["member@a.example"] == "viewer"
