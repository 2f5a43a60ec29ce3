"""Browser tests: Playwright driving a real headless Chromium through the console.

The browser is Debian's `chromium` (or the binary named by `CHROMIUM`); Playwright's own
download is neither needed nor possible. Where there is no such binary every browser test
is skipped with the reason, never passed.

Everything async here runs on the test's own event loop (the gateway fixtures are
function-scoped), so each test launches its own browser: about half a second.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.admin_api.world import PASSWORD, World
from tests.admin_ui.conftest import EMAILS, world

__all__ = ["world"]  # the console tests' two-tenant world, on the demo routing

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000  # well inside the per-test timeout, so a stuck step names itself

SignIn = Callable[[Page, str], Awaitable[None]]
Screenshot = Callable[[Page, str], Awaitable[Path]]


@pytest.fixture(autouse=True)
def chromium() -> str:
    """The browser binary; skips the test, saying why, when there is none. Autouse, so the
    skip comes before any server starts."""
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.skip(
            f"browser tests need Chromium at {path} (Debian package `chromium`, "
            "or set CHROMIUM to the binary)"
        )
    return path


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, world: World) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) per test, its relative URLs on the gateway."""
    context = await browser.new_context(
        base_url=world.root, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def sign_in(page: Page, who: str) -> None:
    """Signs in with the password form as one of the world's people (see EMAILS)."""
    await page.goto("/admin/login")
    await page.get_by_label("Email", exact=True).fill(EMAILS[who])
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sections(page: Page) -> Locator:
    """The side menu: the viewed tenant's pages, then the platform's."""
    return page.get_by_role("navigation", name="Sections")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Saves a full-page screenshot as a test artefact: under `ARTIFACTS_DIR`, or
    test-artifacts/screenshots/ in the project."""
    folder = Path(
        os.environ.get("ARTIFACTS_DIR")
        or request.config.rootpath / "test-artifacts" / "screenshots"
    )

    async def take(page: Page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take
