"""OpenID Connect sign-in to the console, end to end: the gateway, a real identity provider
on 127.0.0.1 (tests/fakes/oidc_idp.py), and a client that follows every redirect by hand."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from joserfc.jwk import RSAKey

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console
from tests.admin_ui.sso_steps import (
    at_idp,
    audit_rows,
    configure_oidc,
    follow_continue,
    oidc_sign_in,
    role_of,
    start,
)
from tests.fakes.oidc_idp import Idp, start_idp


@pytest.fixture
async def idp() -> AsyncIterator[Idp]:
    provider = await start_idp()
    yield provider
    await provider.close()


@pytest.fixture
async def member_idp(world: World, console: ConsoleFactory, idp: Idp) -> Idp:
    """Tenant a's SSO set up with `idp`, which signs in member@a.example."""
    await configure_oidc(await console("owner"), idp)
    idp.sign_in_as("member@a.example")
    return idp


async def test_a_new_person_is_created_with_their_groups_role_and_signed_in(
    world: World, console: ConsoleFactory, idp: Idp, pg_dsn: str
) -> None:
    owner = await console("owner")
    saved = await configure_oidc(
        owner, idp, jit="on", default_role="viewer", group_roles="platform team admin"
    )
    assert saved.status == 200 and saved.url.endswith("/admin/t/a/sso"), saved.text()
    idp.sign_in_as("ada@a.example", groups=["platform team", "other"])
    client = Console(world.root)
    try:
        status, location, _ = await start(client, "ada@a.example", "/admin/t/a/keys")
        assert status == 303 and location.startswith(idp.issuer + "/authorize?")
        back = await oidc_sign_in(client, "a", "/admin/t/a/keys")
        assert back.status == 200, back.text()
        page = await follow_continue(client, back)
        assert page.status == 200 and page.url.endswith("/admin/t/a/keys"), page.text()
        assert "ada@a.example" in page.text()
    finally:
        await client.close()
    form = idp.token_requests[-1]
    assert form["code_verifier"] and "client_secret" not in form  # PKCE, secret in Basic
    created = await audit_rows(pg_dsn, "membership.create")
    assert created[-1]["changes"]["role"] == [None, "admin"]
    assert created[-1]["actor_label"] == "oidc sign-in of ada@a.example"
    assert await role_of(pg_dsn, "ada@a.example") == "admin"
    login = (await audit_rows(pg_dsn, "user.login"))[-1]
    assert login["changes"] == {"method": "oidc"} and login["actor_label"] == "ada@a.example"
    assert str(login["tenant_id"]) == world.ids["tenant-a"]


async def test_without_just_in_time_only_members_get_in_and_others_are_told_why(
    world: World, console: ConsoleFactory, idp: Idp, pg_dsn: str
) -> None:
    owner = await console("owner")
    await configure_oidc(owner, idp, allowed_domains="a.example, b.example, platform.example")
    cases = [
        ("member@a.example", True, None, "/admin/t/a/"),
        ("newcomer@a.example", True, "not_provisioned", "There is no account for newcomer"),
        ("someone@elsewhere.example", True, "domain_not_allowed", "elsewhere.example may not"),
        ("viewer@a.example", False, "email_unverified", "has not verified viewer@a.example"),
        # Tenant a's provider must not sign in tenant b's owner, nor a platform administrator.
        ("owner@b.example", True, "other_tenant", "also belongs to another tenant"),
        ("root@platform.example", True, "platform_admin", "sign in with their password"),
    ]
    for org, message in [
        ("nosuch", "nosuch does not use single sign-on here"),
        ("b", "b does not use single sign-on here"),  # as if it did not exist
        ("x@unknown.example", "No tenant signs in addresses at unknown.example"),
    ]:
        status, _, page = await start(owner, org)
        assert status == 400 and page.html.select_one("#e-org").text.startswith(message)
        assert page.html.select_one("#f-org")["value"] == org
    for email, verified, reason, expected in cases:
        idp.sign_in_as(email, email_verified=verified)
        client = Console(world.root)
        try:
            page = await oidc_sign_in(client)
            if reason is None:
                assert page.status == 200, page.text()
                assert (await follow_continue(client, page)).url.endswith(expected)
                continue
            assert page.status == 403, (email, page.text())
            assert page.html.select_one("h1").text == "Single sign-on refused"
            assert expected in page.text(), page.text()
            assert (await client.get("/admin/account")).url.endswith("?next=/admin/account")
            failed = (await audit_rows(pg_dsn, "user.login_failed"))[-1]
            assert failed["changes"] == {"method": "oidc", "reason": reason}, email
            assert str(failed["tenant_id"]) == world.ids["tenant-a"]
        finally:
            await client.close()


async def test_an_id_token_that_fails_any_check_signs_nobody_in(
    world: World, member_idp: Idp, pg_dsn: str
) -> None:
    idp = member_idp
    now = int(time.time())
    cases = {
        "id_token_nonce": {"nonce": "another sign-in's nonce"},
        "id_token_aud": {"aud": "another-client"},
        "id_token_iss": {"iss": "https://impostor.example"},
        "id_token_expired": {"exp": now - 3600, "iat": now - 7200},
        "id_token_iat": {"iat": now + 3600},
        "id_token_azp": {"aud": [idp.client_id, "another-client"]},
    }
    for reason, claims in cases.items():
        idp.claims = claims
        assert await _refused(world, pg_dsn) == ("oidc", reason, 400)
    idp.claims = {}
    idp.sign_with_unpublished_key()
    assert await _refused(world, pg_dsn) == ("oidc", "id_token_signature", 400)
    # A key rotated in at the provider, unknown to the cached key set: fetched again.
    idp.key, idp.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k2"}), None
    client = Console(world.root)
    try:
        assert (await follow_continue(client, await oidc_sign_in(client))).status == 200
    finally:
        await client.close()


async def test_the_callback_needs_the_browsers_own_flow(
    world: World, member_idp: Idp, pg_dsn: str
) -> None:
    idp = member_idp
    client, other = Console(world.root), Console(world.root)
    try:
        status, location, _ = await start(client, "a")
        assert status == 303
        cookie = next(c for c in client.session.cookie_jar if c.key == "mb_sso")
        assert cookie["samesite"] == "Lax" and cookie["httponly"] and cookie["path"] == "/admin"
        back = (await at_idp(client, location)).removeprefix(world.root)
        forged = back.replace("state=", "state=%C3%A9")  # not even ASCII
        refused = await client.get(forged, allow_redirects=False)
        assert refused.status == 400 and "start again" in refused.text()
        # The code is useless in another browser (login CSRF), and the flow was used up.
        for browser in (other, client):
            page = await browser.get(back, allow_redirects=False)
            assert page.status == 400 and "start again" in page.text()
        reasons = [r["changes"]["reason"] for r in await audit_rows(pg_dsn, "user.login_failed")]
        assert reasons == ["state_mismatch", "flow_missing", "flow_missing"]
        assert len(idp.token_requests) == 0, "no code was exchanged"
        idp.user = None  # the provider says no
        _, location, _ = await start(client, "a")
        page = await client.get((await at_idp(client, location)).removeprefix(world.root))
        assert page.status == 400 and "did not sign you in" in page.text()
    finally:
        await client.close()
        await other.close()


async def test_group_mapping_sets_roles_at_each_sign_in_and_audits_changes(
    world: World, console: ConsoleFactory, pg_dsn: str
) -> None:
    idp = await start_idp(auth_method="client_secret_post")
    try:
        owner = await console("owner")
        mapping = "CN=Gateway Admins,OU=Groups admin\nreaders viewer"
        await configure_oidc(owner, idp, group_roles=mapping, default_role="member")
        steps = [
            ("member@a.example", ["CN=Gateway Admins,OU=Groups", "readers"], "admin"),
            ("member@a.example", ["unrelated"], "member"),  # no mapped group: the default
            ("owner@a.example", ["readers"], "owner"),  # owners stay, unless owner is mapped
        ]
        for email, groups, role in steps:
            idp.sign_in_as(email, groups=groups)
            client = Console(world.root)
            try:
                page = await follow_continue(client, await oidc_sign_in(client))
                assert page.status == 200, page.text()
            finally:
                await client.close()
            assert await role_of(pg_dsn, email) == role, (email, groups)
        assert idp.token_requests[0]["client_secret"] == idp.client_secret  # client_secret_post
        changes = await audit_rows(pg_dsn, "membership.update")
        assert [r["changes"]["role"] for r in changes[-2:]] == [
            ["member", "admin"],
            ["admin", "member"],
        ]
        assert {r["actor_type"] for r in changes[-2:]} == {"system"}
        assert changes[-1]["actor_label"] == "oidc sign-in of member@a.example"
    finally:
        await idp.close()


async def _refused(world: World, pg_dsn: str) -> tuple[str, str, int]:
    client = Console(world.root)
    try:
        page = await oidc_sign_in(client)
        assert "mb_session" not in {c.key for c in client.session.cookie_jar}
    finally:
        await client.close()
    failed = (await audit_rows(pg_dsn, "user.login_failed"))[-1]
    return failed["changes"]["method"], failed["changes"]["reason"], page.status


async def test_starts_naming_no_tenant_are_throttled_like_failed_passwords(
    console: ConsoleFactory, idp: Idp
) -> None:
    owner = await console("owner")
    await configure_oidc(owner, idp)
    assert (await start(owner, "a"))[0] == 303  # a hit costs nothing
    for guess in ["acme", "globex", "x@initech.example", "umbrella", "b"]:
        assert (await start(owner, guess))[0] == 400
    status, _, page = await start(owner, "a")  # even a real one, from this address
    assert status == 429
    assert page.html.select_one("#e-org").text.startswith("Too many sign-ins named no tenant")
    assert int(page.headers["Retry-After"]) > 0
