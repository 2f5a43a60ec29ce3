"""A user of tenant A gets 404 or 403 on every admin route that names tenant B's objects.

Parametrized over the admin API's own route table, so a new endpoint is covered the day it
is added, without anyone remembering to write its isolation test.
"""

from __future__ import annotations

import pytest

from gateway.admin_api.routes import create_admin_api
from tests.admin_api.world import World, build_world
from tests.conftest import GatewayFactory

TENANT_ROUTES = sorted(
    (route.method, route.resource.canonical)
    for route in create_admin_api("m", "t").router.routes()
    if "{tenant}" in route.resource.canonical
)


def test_the_route_table_has_tenant_routes() -> None:
    assert len(TENANT_ROUTES) >= 12


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    from gateway.demo import demo_routing

    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    return await build_world(base_url, pg_dsn)


def _fill(path: str, world: World, tenant: str, key: str, user: str) -> str:
    return (
        path.replace("{tenant}", tenant)
        .replace("{key_id}", world.ids[key])
        .replace("{user_id}", world.ids[user])
    )


BODIES = {
    "POST": {"name": "x", "email": "new@x.example", "role": "viewer"},
    "PATCH": {"name": "x"},
    "PUT": {"role": "viewer"},
}


async def test_tenant_a_cannot_reach_tenant_b_by_any_route(world: World) -> None:
    failures = []
    for method, path in TENANT_ROUTES:
        url = _fill(path, world, "b", "key-b", "user-owner-b")
        status, payload = await world.call("owner", method, url, BODIES.get(method))
        has_body = method != "HEAD"  # HEAD mirrors GET without a body
        if status not in (403, 404) or (has_body and "error" not in payload):
            failures.append(f"{method} {url} -> {status}")
    assert not failures, failures


async def test_tenant_b_objects_are_not_found_through_tenant_a_urls(world: World) -> None:
    """Right tenant in the URL, other tenant's object id: the query is tenant-scoped."""
    failures = []
    for method, path in TENANT_ROUTES:
        if "{key_id}" not in path and "{user_id}" not in path:
            continue
        url = _fill(path, world, "a", "key-b", "user-owner-b")
        status, _ = await world.call("owner", method, url, BODIES.get(method))
        if status != 404:
            failures.append(f"{method} {url} -> {status}")
    assert not failures, failures


async def test_lists_show_only_the_callers_tenant(world: World) -> None:
    status, payload = await world.call("owner", "GET", "/tenants")
    assert status == 200
    assert [t["slug"] for t in payload["data"]] == ["a"]
    status, payload = await world.call("owner", "GET", "/tenants/a/keys")
    assert [k["id"] for k in payload["data"]] == [world.ids["key-a"]]
    status, payload = await world.call("platform", "GET", "/tenants")
    assert sorted(t["slug"] for t in payload["data"]) == ["a", "b"]
