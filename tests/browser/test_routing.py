"""The routing page in a real browser: reached from the menu, reloaded with its button."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Screenshot, sections, sign_in


async def test_a_platform_admin_opens_the_routing_page_and_reloads(
    page: Page, screenshot: Screenshot
) -> None:
    await sign_in(page, "platform")
    await sections(page).get_by_role("link", name="Routing").click()
    await expect(page.get_by_role("heading", name="Routing", exact=True)).to_be_visible()
    demo = page.locator('tr[data-deployment="demo:demo:demo"]')
    await expect(demo.get_by_role("cell")).to_have_text(
        ["demo", "demo", "1.0", "none", "0 / 0", "closed", "0", "no data", "0 of 0"]
    )
    await screenshot(page, "routing")

    await page.get_by_role("button", name="Reload routing").click()
    await expect(page).to_have_url("/admin/routing")
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("was rejected")
    await expect(alert).to_contain_text("no routing file")
    await page.reload()
    await expect(page.get_by_role("alert")).to_have_count(0)
