"""No console URL or form lets a user of one tenant see or change another's objects.

Parametrized over the console's own route table, so a page is covered the day it is added.
"""

from __future__ import annotations

import re
import uuid

import pytest

from gateway.admin_ui.app import create_admin_ui
from gateway.config import AdminConsoleConfig
from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory

TENANT_ROUTES = sorted(
    (route.method, route.resource.canonical)
    for route in create_admin_ui("s" * 32, AdminConsoleConfig()).router.routes()
    if route.resource is not None and "{tenant}" in route.resource.canonical
)
_PARAM = re.compile(r"\{(\w+)\}")


def _fill(path: str, world: World, tenant: str, other: str) -> str:
    """Names `tenant`; every other id in the path is one of tenant `other`'s objects."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "tenant":
            return tenant
        if "key" in name:
            return world.ids[f"key-{other}"]
        if "user" in name or "member" in name:
            return world.ids["user-owner-b" if other == "b" else "user-viewer"]
        return str(uuid.uuid4())

    return _PARAM.sub(value, path)


def test_the_console_has_tenant_pages() -> None:
    assert TENANT_ROUTES, "no console page names a tenant"


@pytest.mark.parametrize(
    ("method", "path"), TENANT_ROUTES, ids=[f"{m} {p}" for m, p in TENANT_ROUTES]
)
async def test_another_tenants_pages_are_not_found(
    world: World, console: ConsoleFactory, method: str, path: str
) -> None:
    owner_b = await console("owner-b")
    await owner_b.get("/admin/")
    url = _fill(path, world, "a", "a")
    page = await (owner_b.get(url) if method == "GET" else owner_b.post(url, {}))
    assert page.status == 404, f"{method} {url} answered {page.status}"
    text = page.text()
    assert "owner@a.example" not in text and world.ids["key-a"] not in text


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in TENANT_ROUTES if len(_PARAM.findall(r[1])) > 1],
    ids=[f"{m} {p}" for m, p in TENANT_ROUTES if len(_PARAM.findall(p)) > 1],
)
async def test_objects_of_another_tenant_are_not_found_under_ones_own(
    world: World, console: ConsoleFactory, method: str, path: str
) -> None:
    """Tenant a's owner, on tenant a's pages, naming tenant b's key or member."""
    owner_a = await console("owner")
    await owner_a.get("/admin/")
    url = _fill(path, world, "a", "b")
    page = await (owner_a.get(url) if method == "GET" else owner_a.post(url, {}))
    assert page.status in (400, 404), f"{method} {url} answered {page.status}"
    assert "owner@b.example" not in page.text()
