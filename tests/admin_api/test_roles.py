"""The role matrix, driven through the admin API: each role allowed or refused per action."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.demo import demo_routing
from gateway.roles import PERMISSIONS, Action, Role
from tests.admin_api.world import World, build_world
from tests.conftest import GatewayFactory


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    return await build_world(base_url, pg_dsn)


async def _fresh_key(world: World, tenant: str = "a") -> str:
    status, payload = await world.call("master", "POST", f"/tenants/{tenant}/keys", {"name": "t"})
    assert status == 201
    return str(payload["key"]["id"])


# (action, method, path, body); `{key}` is replaced with a fresh key id of tenant A.
CASES: list[tuple[Action, str, str, Any]] = [
    (Action.TENANT_READ, "GET", "/tenants/a", None),
    (Action.TENANT_UPDATE, "PATCH", "/tenants/a", {"name": "Renamed"}),
    (Action.MEMBER_READ, "GET", "/tenants/a/members", None),
    (
        Action.MEMBER_MANAGE,
        "POST",
        "/tenants/a/members",
        {"email": "invitee@a.example", "role": "viewer"},
    ),
    (Action.KEY_READ, "GET", "/tenants/a/keys", None),
    (Action.KEY_CREATE, "POST", "/tenants/a/keys", {"name": "mine"}),
    (Action.KEY_REVOKE, "POST", "/tenants/a/keys/{key}/revoke", None),
    (Action.AUDIT_READ, "GET", "/tenants/a/audit", None),
]


@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_each_role_is_allowed_exactly_what_the_table_says(world: World, role: str) -> None:
    outcomes = {}
    for action, method, path, body in CASES:
        if "{key}" in path:
            path = path.replace("{key}", await _fresh_key(world))
        status, _ = await world.call(role, method, path, body)
        outcomes[action.value] = status
    expected = {action.value: Role(role) in PERMISSIONS[action] for action, *_ in CASES}
    assert {a: s < 300 for a, s in outcomes.items()} == expected, outcomes
    assert all(s in (200, 201, 403) for s in outcomes.values()), outcomes


@pytest.mark.parametrize("who", ["platform", "master"])
async def test_platform_administrators_may_do_everything(world: World, who: str) -> None:
    for _, method, path, body in CASES:
        path = path.replace("/tenants/a", "/tenants/b")
        if "{key}" in path:
            path = path.replace("{key}", await _fresh_key(world, "b"))
        status, payload = await world.call(who, method, path, body)
        assert status < 300, (method, path, payload)
    status, _ = await world.call(who, "POST", "/tenants", {"slug": f"new-{who}", "name": "N"})
    assert status == 201


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
async def test_platform_only_routes_refuse_tenant_roles(world: World, role: str) -> None:
    assert (await world.call(role, "POST", "/tenants", {"slug": "x", "name": "X"}))[0] == 403
    assert (await world.call(role, "GET", "/users"))[0] == 403
    assert (await world.call(role, "GET", "/audit"))[0] == 403
    assert (await world.call(role, "POST", "/tenants/a/suspend"))[0] == 403


async def test_only_owners_grant_the_owner_role(world: World) -> None:
    promote = {"email": "member@a.example", "role": "owner"}
    assert (await world.call("admin", "POST", "/tenants/a/members", promote))[0] == 403
    owner_id = world.ids["user-owner"]
    assert (await world.call("admin", "DELETE", f"/tenants/a/members/{owner_id}"))[0] == 403
    assert (await world.call("owner", "POST", "/tenants/a/members", promote))[0] == 201


async def test_role_table_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for action, roles in PERMISSIONS.items():
        row = next((line for line in readme.splitlines() if f"`{action.value}`" in line), None)
        assert row is not None, f"{action.value} missing from the README's role table"
        cells = [c.strip() for c in row.strip("|").split("|")]
        marks = dict(zip(["owner", "admin", "member", "viewer"], cells[1:5], strict=True))
        assert {r for r, m in marks.items() if m == "yes"} == {r.value for r in roles}, row
