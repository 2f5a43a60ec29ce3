"""The main pages of a tenant with some traffic, opened from the menu in a real browser and
kept as screenshots; the key, member and routing flows take theirs."""

from __future__ import annotations

import asyncio

import openai
from playwright.async_api import Page, expect

from tests.admin_api.world import World
from tests.browser.conftest import Screenshot, sections, sign_in

REQUESTS = 3


async def test_overview_usage_and_audit_pages(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    status, created = await world.call("admin", "POST", "/tenants/a/keys", {"name": "tour"})
    assert status == 201, created
    async with openai.AsyncOpenAI(
        base_url=world.root + "/v1", api_key=created["secret"], max_retries=0
    ) as client:
        for n in range(REQUESTS):
            await client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": f"request {n}"}]
            )

    await sign_in(page, "owner")
    await page.get_by_role("navigation", name="Tenants").get_by_role("link", name="a").click()
    await sections(page).get_by_role("link", name="Overview").click()
    await until_counted(page, REQUESTS)
    await screenshot(page, "overview")

    await sections(page).get_by_role("link", name="Usage & cost").click()
    await expect(page.get_by_role("heading", name="Usage & cost")).to_be_visible()
    await expect(page.locator("table.usage")).to_be_visible()
    await screenshot(page, "usage")

    await sections(page).get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="key.create").first).to_be_visible()
    await screenshot(page, "audit")


async def until_counted(page: Page, requests: int) -> None:
    """The overview once the usage writer (a background task) has stored every request."""
    shown = page.locator(".stats div").filter(has_text="Requests").locator("dd")
    for _ in range(50):
        if (await shown.text_content() or "").strip() == str(requests):
            return
        await asyncio.sleep(0.1)
        await page.reload()
    await expect(shown).to_have_text(str(requests))
