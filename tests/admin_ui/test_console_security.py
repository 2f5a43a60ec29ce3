"""CSRF, security headers, and the console's boundary with the API."""

from __future__ import annotations

import aiohttp
import pytest

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.conftest import MASTER_KEY

CROSS_SITE = [
    pytest.param({}, "", id="no-token"),
    pytest.param({}, "forged", id="wrong-token"),
    pytest.param({"Origin": "https://evil.example"}, None, id="foreign-origin"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, None, id="cross-site-fetch"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, None, id="sibling-subdomain"),
]


@pytest.mark.parametrize(("headers", "token"), CROSS_SITE)
async def test_state_changing_requests_need_a_valid_token_from_our_own_origin(
    console: ConsoleFactory, headers: dict[str, str], token: str | None
) -> None:
    client = await console("admin")
    await client.get("/admin/")
    sent = client.csrf if token is None else token
    refused = await client.post("/admin/logout", {"csrf_token": sent}, csrf=False, headers=headers)
    assert refused.status == 403
    assert "This form was refused" in refused.text()
    still_in = await client.get("/admin/account")
    assert still_in.status == 200 and still_in.url.endswith("/admin/account")


async def test_a_token_from_another_session_is_refused(console: ConsoleFactory) -> None:
    mallory, alice = await console("viewer"), await console("admin")
    await mallory.get("/admin/")
    await alice.get("/admin/")
    refused = await alice.post("/admin/logout", {"csrf_token": mallory.csrf}, csrf=False)
    assert refused.status == 403
    accepted = await alice.post(
        "/admin/logout", {"csrf_token": alice.csrf}, csrf=False, headers={"Origin": alice.root}
    )
    assert accepted.status == 200 and accepted.url.endswith("/admin/login")


async def test_sign_in_itself_is_csrf_protected(world: World, console: ConsoleFactory) -> None:
    client = await console(None)
    await client.get("/admin/login")
    form = {"email": "owner@a.example", "password": "correct horse battery"}
    assert (await client.post("/admin/login", form, csrf=False)).status == 403
    assert (await client.post("/admin/login", form)).url.endswith("/admin/t/a/")


@pytest.mark.parametrize("path", ["/admin/login", "/admin/no-such-page", "/admin/static/admin.css"])
async def test_every_console_response_carries_the_security_headers(
    console: ConsoleFactory, path: str
) -> None:
    page = await (await console("owner")).get(path)
    headers = page.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["x-request-id"].startswith("req_")
    if path == "/admin/no-such-page":
        assert page.status == 404 and headers["Content-Type"].startswith("text/html")
        assert "Not found" in page.text()


async def test_console_middlewares_never_run_on_the_api(world: World) -> None:
    auth = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(world.root + "/v1/models", headers=auth) as response:
            assert response.status == 200
            assert "Content-Security-Policy" not in response.headers
        async with session.get(world.root + "/admin/api/tenants") as response:
            assert response.status == 401  # the JSON API: OpenAI-shaped, not a console page
            body = await response.json()
            assert set(body["error"]) == {"message", "type", "param", "code"}
            assert "Content-Security-Policy" not in response.headers


async def test_the_console_answers_at_admin_as_typed(world: World) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(world.root + "/admin", allow_redirects=False) as response,
    ):
        assert response.status == 308 and response.headers["Location"] == "/admin/"
