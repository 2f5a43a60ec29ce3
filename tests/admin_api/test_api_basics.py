"""Sign-in, tokens, throttling, validation, conflicts, pagination and the audit trail."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.demo import demo_routing
from tests.admin_api.world import PASSWORD, World, build_world
from tests.conftest import GatewayFactory


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    base_url = await start_gateway(demo_routing().model_dump(mode="json"))
    return await build_world(base_url, pg_dsn)


async def login(world: World, email: str, password: str) -> tuple[int, dict, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{world.root}/admin/api/login", json={"email": email, "password": password}
        ) as response,
    ):
        return response.status, dict(response.headers), await response.json()


async def test_login_issues_a_token_and_refuses_bad_credentials(world: World) -> None:
    status, _, payload = await login(world, "OWNER@a.example", PASSWORD)
    assert status == 200 and payload["token_type"] == "Bearer"
    assert "password_hash" not in str(payload)
    status, _, payload = await login(world, "owner@a.example", "wrong password!")
    assert status == 401 and payload["error"]["code"] == "invalid_credentials"
    status, _, unknown = await login(world, "nobody@a.example", "wrong password!")
    assert status == 401 and unknown["error"]["message"] == payload["error"]["message"]


async def test_failed_logins_are_throttled_per_account(world: World) -> None:
    for _ in range(5):
        assert (await login(world, "viewer@a.example", "wrong password!"))[0] == 401
    status, headers, payload = await login(world, "viewer@a.example", PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert payload["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    "credential",
    ["", "garbage", "eyJhbGciOiJIUzI1NiJ9.e30.bad", "sk-mb-not-the-master"],
    ids=["empty", "garbage", "bad-jwt", "wrong-master"],
)
async def test_bad_credentials_get_401(world: World, credential: str) -> None:
    world.tokens["bad"] = credential
    status, payload = await world.call("bad", "GET", "/tenants")
    assert status == 401 and set(payload["error"]) == {"message", "type", "param", "code"}


async def test_invalid_input_names_the_field(world: World) -> None:
    status, payload = await world.call(
        "master", "POST", "/tenants", {"slug": "Bad Slug!", "name": "x"}
    )
    assert status == 400 and payload["error"]["param"] == "slug"
    status, payload = await world.call("master", "POST", "/tenants", {"slug": "ok", "nmae": "x"})
    assert status == 400 and payload["error"]["param"] in ("name", "nmae")
    status, payload = await world.call("owner", "POST", "/tenants/a/keys", {"name": "k", "rpm": -1})
    assert status == 400 and payload["error"]["param"] == "rpm"
    status, payload = await world.call("owner", "GET", "/tenants/a/keys?limit=0")
    assert status == 400 and payload["error"]["param"] == "limit"


async def test_duplicates_are_409_and_unknowns_404(world: World) -> None:
    status, _ = await world.call("master", "POST", "/tenants", {"slug": "a", "name": "again"})
    assert status == 409
    status, _ = await world.call("master", "POST", "/users", {"email": "OWNER@a.example"})
    assert status == 409
    status, _ = await world.call("master", "GET", "/tenants/nope")
    assert status == 404
    status, _ = await world.call("owner", "GET", "/tenants/a/keys/not-a-uuid")
    assert status == 400


async def test_key_secret_is_shown_once_and_lists_paginate(world: World) -> None:
    secrets = []
    for i in range(3):
        status, payload = await world.call("owner", "POST", "/tenants/a/keys", {"name": f"k{i}"})
        assert status == 201 and payload["secret"].startswith("sk-mb-")
        secrets.append(payload["secret"])
    status, first = await world.call("owner", "GET", "/tenants/a/keys?limit=2")
    status, rest = await world.call("owner", "GET", "/tenants/a/keys?limit=2&offset=2")
    assert first["has_more"] is True and rest["has_more"] is False
    assert len(first["data"]) + len(rest["data"]) == 4
    listed = str(first) + str(rest)
    assert not any(secret in listed for secret in secrets)
    assert "key_hash" not in listed


async def test_changes_are_audited_without_secrets(world: World) -> None:
    status, created = await world.call("owner", "POST", "/tenants/a/keys", {"name": "audited"})
    key_id = created["key"]["id"]
    await world.call("owner", "POST", f"/tenants/a/keys/{key_id}/revoke")
    status, log = await world.call("owner", "GET", "/tenants/a/audit?target=" + key_id)
    actions = [e["action"] for e in log["data"]]
    assert actions == ["key.revoke", "key.create"]
    assert all(e["actor_label"] == "owner@a.example" for e in log["data"])
    assert all(e["source_ip"] == "127.0.0.1" for e in log["data"])
    assert created["secret"] not in str(log)
    await login(world, "viewer@a.example", PASSWORD)
    status, logins = await world.call("platform", "GET", "/audit?action=user.login")
    assert status == 200
    assert [e["actor_label"] for e in logins["data"]] == ["viewer@a.example"]
