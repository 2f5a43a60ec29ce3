"""What the tenants, members and keys page tests check the same way: a field's error, a
form posted without following its redirect (to see the 303), and the audit log's entries."""

from __future__ import annotations

from typing import Any

from tests.admin_api.world import World
from tests.admin_ui.console import Console, Page


def error_of(page: Page, field: str) -> str:
    found = page.html.select_one(f"#e-{field}")
    assert found is not None, f"no error on {field}: {page.errors()}"
    return found.get_text(strip=True)


async def post_form(client: Console, page: Page, action: str, **fields: str) -> Page:
    """Submits the form on `page` with `fields` typed in, and stops at the redirect."""
    return await client.post(action, page.form(action) | fields, csrf=False, allow_redirects=False)


async def audited(world: World, query: str) -> list[dict[str, Any]]:
    """The audit entries `action=<query>` finds (more filters may follow after `&`)."""
    status, body = await world.call("platform", "GET", f"/audit?action={query}")
    assert status == 200
    return list(body["data"])
