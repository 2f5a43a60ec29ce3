"""Signing in and out of the console, sessions, second factor, throttling."""

from __future__ import annotations

import time

import asyncpg
import pyotp
import pytest

from tests.admin_api.world import PASSWORD, World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console


async def test_password_sign_in_opens_the_console_with_a_strict_http_only_cookie(
    world: World,
) -> None:
    client = Console(world.root)
    try:
        login = await client.get("/admin/login")
        response = await client.session.post(
            world.root + "/admin/login",
            data=login.form("/admin/login") | {"email": "owner@a.example", "password": PASSWORD},
            allow_redirects=False,
        )
        assert response.status == 303 and response.headers["Location"] == "/admin/"
        cookie = response.cookies["mb_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/admin" and not cookie["secure"]
        home = await client.get("/admin/")  # a member of one tenant: its overview
        assert home.status == 200 and home.url.endswith("/admin/t/a/")
        assert "owner@a.example" in home.text()
        assert [a["href"] for a in home.html.select("nav.tenants a")] == ["/admin/t/a/"]
    finally:
        await client.close()


async def test_a_wrong_password_re_renders_the_form_with_an_error(world: World) -> None:
    client = Console(world.root)
    try:
        page = await client.sign_in("owner@a.example", "wrong password!")
        assert page.status == 400
        assert page.errors() == ["Incorrect email or password."]
        assert page.form("/admin/login")["email"] == "owner@a.example"
        assert page.form("/admin/login")["password"] == ""  # never echoed back
        assert "mb_session" not in {c.key for c in client.session.cookie_jar}
    finally:
        await client.close()


async def test_pages_need_a_session_and_sign_in_returns_to_them(world: World) -> None:
    client = Console(world.root)
    try:
        response = await client.session.get(world.root + "/admin/account", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/admin/login?next=/admin/account"
        login = await client.get("/admin/account")
        page = await client.submit(
            login, "/admin/login", email="viewer@a.example", password=PASSWORD
        )
        assert page.url.endswith("/admin/account") and page.status == 200
    finally:
        await client.close()


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/admin/", "/v1/models", "javascript:x"]
)
async def test_next_never_leaves_the_console(world: World, target: str) -> None:
    client = Console(world.root)
    try:
        login = await client.get("/admin/login")
        response = await client.session.post(
            world.root + "/admin/login",
            data=login.form("/admin/login")
            | {"email": "owner@a.example", "password": PASSWORD, "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == "/admin/"
    finally:
        await client.close()


async def test_sign_out_ends_the_session_on_the_server(
    world: World, console: ConsoleFactory
) -> None:
    client = await console("admin")
    stolen = {c.key: c.value for c in client.session.cookie_jar}
    home = await client.get("/admin/")
    page = await client.submit(home, "/admin/logout")
    assert page.url.endswith("/admin/login")
    replay = Console(world.root)
    try:
        replay.session.cookie_jar.update_cookies(stolen)
        again = await replay.get("/admin/account")
        assert again.url.endswith("/admin/login?next=/admin/account")
    finally:
        await replay.close()


async def test_an_idle_session_expires(console: ConsoleFactory, pg_dsn: str) -> None:
    client = await console("member")
    assert (await client.get("/admin/account")).status == 200
    connection = await asyncpg.connect(pg_dsn)
    try:
        await connection.execute(
            "UPDATE admin_sessions SET last_seen_at = now() - interval '2 hours'"
        )
    finally:
        await connection.close()
    page = await client.get("/admin/account")
    assert "/admin/login" in page.url


async def test_repeated_failures_are_throttled_even_with_the_right_password(
    world: World,
) -> None:
    client = Console(world.root)
    try:
        for _ in range(5):
            assert (await client.sign_in("member@a.example", "not the password")).status == 400
        page = await client.sign_in("member@a.example")
        assert page.status == 429
        assert "Too many failed sign-in attempts" in page.text()
    finally:
        await client.close()


async def test_totp_second_factor_from_enrolment_to_sign_in(
    world: World, console: ConsoleFactory
) -> None:
    client = await console("owner")
    setup = await client.get("/admin/account/totp")
    secret = setup.html.select_one("code.secret").text
    assert setup.html.select_one("img.qr")["src"].startswith("data:image/svg+xml")
    wrong = await client.submit(setup, "/admin/account/totp", code="000000")
    assert wrong.status == 400 and "does not match" in wrong.text()
    totp = pyotp.TOTP(secret)
    enrolment_code = totp.now()
    done = await client.submit(wrong, "/admin/account/totp", code=enrolment_code)
    assert done.url.endswith("/admin/account") and "is required" in done.text()

    fresh = Console(world.root)
    try:
        code_page = await fresh.sign_in("owner@a.example")
        assert code_page.url.split("?")[0].endswith("/admin/login/code")
        # Half signed in: nothing but the code page opens.
        assert "/admin/login?next=" in (await fresh.get("/admin/account")).url
        code_page = await fresh.get("/admin/login/code")
        bad = await fresh.submit(code_page, "/admin/login/code", code="123456")
        assert bad.status == 400
        replayed = await fresh.submit(bad, "/admin/login/code", code=enrolment_code)
        assert replayed.status == 400, "a code is good once"
        next_code = totp.at(time.time() + totp.interval)
        done = await fresh.submit(replayed, "/admin/login/code", code=next_code)
        assert done.status == 200 and done.url.endswith("/admin/t/a/")
    finally:
        await fresh.close()

    status, body = await _api_login(world, "owner@a.example")
    assert status == 401 and body["error"]["code"] == "totp_required"


async def _api_login(world: World, email: str) -> tuple[int, dict[str, object]]:
    client = Console(world.root)
    try:
        async with client.session.post(
            world.root + "/admin/api/login", json={"email": email, "password": PASSWORD}
        ) as response:
            return response.status, await response.json()
    finally:
        await client.close()
