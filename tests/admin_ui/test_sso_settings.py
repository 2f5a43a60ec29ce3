"""A tenant's single sign-on settings page: who may open it, what it accepts, the client
secret that never comes back, who may choose the identity provider, and SAML's absence."""

from __future__ import annotations

import sys

import asyncpg
import pytest

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.sso_steps import audit_rows
from tests.fakes.oidc_idp import start_idp

PAGE = "/admin/t/a/sso"
SECRET = "s3cret-value-that-must-never-show"
ISSUER = "https://login.a.example"


async def test_owners_and_admins_open_it_others_are_refused(
    world: World, console: ConsoleFactory
) -> None:
    for who, status in [
        ("owner", 200),
        ("admin", 200),
        ("platform", 200),
        ("member", 403),
        ("viewer", 403),
        ("owner-b", 404),
    ]:
        client = await console(who)
        page = await client.get(PAGE)
        assert page.status == status, (who, page.text())
        menu = [a.text for a in page.html.select("nav.side a")] if status == 200 else []
        assert ("Single sign-on" in menu) == (status == 200), who
    member_home = await (await console("member")).get("/admin/t/a/")
    assert "Single sign-on" not in [a.text for a in member_home.html.select("nav.side a")]


async def test_saving_validates_and_the_secret_is_write_only(
    world: World, console: ConsoleFactory, pg_dsn: str
) -> None:
    owner = await console("owner")
    page = await owner.get(PAGE)
    invalid = [
        ({"enabled": "on", "allowed_domains": "a.example"}, "oidc_issuer", "Required"),
        ({"oidc_issuer": "http://login.a.example"}, "oidc_issuer", "must use https"),
        ({"oidc_issuer": "ftp://x"}, "oidc_issuer", "must use https"),
        ({"allowed_domains": "a.example, not a domain"}, "allowed_domains", "not a domain"),
        ({"group_roles": "admins superuser"}, "group_roles", "then one of"),
        ({"saml_x509_cert": "not a certificate"}, "saml_x509_cert", "not an X.509"),
        (
            {"enabled": "on", "oidc_issuer": ISSUER, "oidc_client_id": "c"},
            "oidc_client_secret",
            "Required",
        ),
        (
            {
                "enabled": "on",
                "oidc_issuer": ISSUER,
                "oidc_client_id": "c",
                "oidc_client_secret": SECRET,
            },
            "allowed_domains",
            "at least one domain",
        ),
    ]
    pages = []
    for fields, field, message in invalid:
        answer = await owner.submit(page, PAGE, **fields)
        pages.append(answer)
        assert answer.status == 400, (fields, answer.text())
        error = answer.html.select_one(f"#e-{field}")
        assert error is not None and message in error.text, (fields, answer.text())
    saved = await owner.submit(
        page,
        PAGE,
        enabled="on",
        oidc_issuer=ISSUER,
        oidc_client_id="console",
        oidc_client_secret=SECRET,
        allowed_domains="@A.example b.example",
        group_roles="platform team admin",
    )
    assert saved.status == 200 and saved.url.endswith(PAGE)
    assert "Single sign-on settings saved." in saved.text()
    assert saved.form(PAGE)["allowed_domains"] == "a.example, b.example"
    assert saved.form(PAGE)["oidc_client_secret"] == ""
    assert "A secret is stored" in saved.text()
    again = await owner.submit(saved, PAGE, jit="on")  # the secret field left blank
    assert "A secret is stored" in again.text() and again.form(PAGE)["jit"] == "on"
    for who, path in [("owner", PAGE), ("admin", PAGE), ("owner", "/admin/t/a/audit")]:
        pages.append(await (await console(who)).get(path))
    pages.append(await (await console("platform")).get("/admin/audit"))
    assert all(SECRET not in p.html.decode() for p in pages)

    connection = await asyncpg.connect(pg_dsn)
    try:
        stored = await connection.fetchval("SELECT oidc_client_secret FROM tenant_sso")
    finally:
        await connection.close()
    assert SECRET.encode() not in stored
    updates = await audit_rows(pg_dsn, "sso.update")
    assert updates[0]["changes"]["oidc_client_secret"] == "replaced"
    assert updates[0]["changes"]["allowed_domains"] == [[], ["a.example", "b.example"]]
    assert updates[1]["changes"] == {"jit": [False, True]}
    assert all(SECRET not in str(r["changes"]) for r in updates)


async def test_only_owners_choose_the_identity_provider_or_grant_owner(
    world: World, console: ConsoleFactory, pg_dsn: str
) -> None:
    owner, admin = await console("owner"), await console("admin")
    page = await owner.get(PAGE)
    await owner.submit(page, PAGE, oidc_issuer=ISSUER, oidc_client_id="console")
    form = await admin.get(PAGE)
    assert form.html.select_one("#f-oidc_issuer").has_attr("readonly")
    for fields, field in [
        ({"oidc_issuer": "https://attacker.example"}, "oidc_issuer"),
        ({"oidc_client_secret": "mine"}, "oidc_client_secret"),
        ({"groups_claim": "name"}, "groups_claim"),
        ({"group_roles": "everyone owner"}, "group_roles"),
        ({"default_role": "owner"}, "default_role"),
    ]:
        refused = await admin.submit(form, PAGE, **fields)
        assert refused.status == 403, (fields, refused.text())
        assert "Only an owner" in refused.html.select_one(f"#e-{field}").text
    saved = await admin.submit(form, PAGE, allowed_domains="a.example", jit="on")
    assert saved.status == 200 and "settings saved" in saved.text()
    assert len(await audit_rows(pg_dsn, "sso.update")) == 2


@pytest.fixture
def without_saml(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where xmlsec is not installed: importing it fails."""
    monkeypatch.setitem(sys.modules, "xmlsec", None)


async def test_without_the_saml_libraries_the_page_says_why_and_oidc_still_works(
    without_saml: None, world: World, console: ConsoleFactory
) -> None:
    owner = await console("owner")
    page = await owner.get(PAGE)
    notice = page.html.select_one(".saml-unavailable").text
    assert "SAML is unavailable" in notice and "xmlsec" in notice and "saml" in notice
    assert page.html.select_one("input[value=saml]").has_attr("disabled")
    refused = await owner.submit(
        page,
        PAGE,
        enabled="on",
        protocol="saml",
        saml_idp_entity_id="https://idp.a.example",
        saml_sso_url="https://idp.a.example/sso",
        allowed_domains="a.example",
    )
    assert refused.status == 400 and "SAML is unavailable" in refused.text()
    assert (await owner.get("/admin/sso/saml/metadata")).status == 404
    idp = await start_idp()
    try:
        saved = await owner.submit(
            page,
            PAGE,
            enabled="on",
            oidc_issuer=idp.issuer,
            oidc_client_id=idp.client_id,
            oidc_client_secret=idp.client_secret,
            allowed_domains="a.example",
        )
        assert saved.status == 200 and "settings saved" in saved.text()
    finally:
        await idp.close()


async def test_addresses_from_a_non_local_host_header_are_warned_about(
    console: ConsoleFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await console("owner")
    with caplog.at_level("WARNING", logger="gateway.sso.flow"):
        await client.get(PAGE)  # from 127.0.0.1: no warning
        assert not caplog.records
        page = await client.get(PAGE, headers={"Host": "console.example"})
    assert page.status == 200
    callback = page.html.select_one("code.callback-url")
    assert callback is not None and callback.get_text().startswith("http://console.example/")
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["admin.public_url is not set"]
