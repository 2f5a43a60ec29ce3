"""Signing in and out with a password, in a real browser."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import Screenshot, sign_in


async def test_password_sign_in_and_sign_out(page: Page, screenshot: Screenshot) -> None:
    await page.goto("/admin/account")
    await expect(page).to_have_url("/admin/login?next=/admin/account")
    await page.get_by_label("Email", exact=True).fill("owner@a.example")
    await page.get_by_label("Password", exact=True).fill("not the password")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_have_text("Incorrect email or password.")
    await expect(page.get_by_label("Password", exact=True)).to_have_value("")
    await screenshot(page, "sign-in")

    await sign_in(page, "owner")
    await expect(page.get_by_role("navigation", name="Account")).to_contain_text("owner@a.example")
    await expect(page.get_by_role("navigation", name="Tenants").get_by_role("link")).to_have_text(
        ["a (owner)"]
    )
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url("/admin/login")
    await page.goto("/admin/account")
    await expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
