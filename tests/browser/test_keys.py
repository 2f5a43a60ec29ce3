"""An API key's life in a real browser: created in the console, its one-time secret read off
the page and copied with its button, used with the `openai` SDK, revoked in the console,
and refused from then on."""

from __future__ import annotations

import asyncio

import openai
from playwright.async_api import Page, expect

from tests.admin_api.world import World
from tests.browser.conftest import Screenshot, sign_in

NAME = "browser key"
HELLO = [{"role": "user", "content": "Hello through the console's key"}]


async def test_a_key_made_in_the_console_works_until_it_is_revoked_there(
    page: Page, world: World, screenshot: Screenshot
) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(page, "admin")
    await page.goto("/admin/t/a/keys")
    await page.get_by_role("link", name="Create a key").click()
    await page.get_by_label("Name").fill(NAME)
    await page.get_by_role("button", name="Create key").click()

    await expect(page.get_by_role("heading", name=f"Key {NAME} created")).to_be_visible()
    secret = (await page.locator("code.secret").text_content() or "").strip()
    assert secret.startswith("sk-")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await page.reload()
    await expect(page.get_by_role("heading", name="Nothing to show")).to_be_visible()
    assert secret not in await page.content()

    async with openai.AsyncOpenAI(
        base_url=world.root + "/v1", api_key=secret, max_retries=0
    ) as client:
        answer = await client.chat.completions.create(model="demo", messages=HELLO)
        assert answer.choices[0].message.content

        await page.get_by_role("link", name="Back to the API keys").click()
        row = page.get_by_role("row").filter(has_text=NAME)
        await expect(row).to_contain_text("active")
        await screenshot(page, "keys")
        await row.get_by_role("link", name="Revoke…").click()
        await page.get_by_role("button", name=f"Revoke {NAME}").click()
        await expect(page.get_by_role("status")).to_contain_text("is revoked")
        await expect(page.get_by_role("row").filter(has_text=NAME)).to_contain_text("revoked")

        await refused(client)


async def refused(client: openai.AsyncOpenAI) -> None:
    """Revocation reaches every process within a second; this one is told at once, but the
    test allows for the notification's trip through the database."""
    for _ in range(20):
        try:
            await client.chat.completions.create(model="demo", messages=HELLO)
        except openai.AuthenticationError:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the revoked key still works")
