"""Steps of the SSO tests: setting a tenant's SSO up through its settings page, and going
through a sign-in the way a browser does, redirect by redirect, across the gateway and the
identity provider (the client follows nothing by itself, so each hop is seen)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from bs4 import BeautifulSoup

from tests.admin_ui.console import Console, Page
from tests.fakes.oidc_idp import Idp


async def configure_oidc(admin: Console, idp: Idp, tenant: str = "a", **changes: Any) -> Page:
    """Submits the tenant's SSO settings page: SSO on, with this provider."""
    page = await admin.get(f"/admin/t/{tenant}/sso")
    assert page.status == 200, page.text()
    fields = {
        "enabled": "on",
        "protocol": "oidc",
        "oidc_issuer": idp.issuer,
        "oidc_client_id": idp.client_id,
        "oidc_client_secret": idp.client_secret,
        "allowed_domains": "a.example",
        "default_role": "member",
    } | changes
    return await admin.submit(page, f"/admin/t/{tenant}/sso", **fields)


async def start(client: Console, org: str, next_page: str = "/admin/") -> tuple[int, str, Page]:
    """The SSO box of the sign-in page: the status, where it sends the browser, the page."""
    async with client.session.get(
        client.root + "/admin/sso/start",
        params={"org": org, "next": next_page},
        allow_redirects=False,
    ) as response:
        html = BeautifulSoup(await response.text(), "html.parser")
        page = Page(response.status, str(response.url), html, response.headers)
        return response.status, response.headers.get("Location", ""), page


async def at_idp(client: Console, authorize_url: str) -> str:
    """The identity provider's answer: where it sends the browser back to."""
    async with client.session.get(authorize_url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        return response.headers["Location"]


async def oidc_sign_in(client: Console, org: str = "a", next_page: str = "/admin/") -> Page:
    """Start, the provider, and the callback: the callback's page (continue, or refused)."""
    status, location, page = await start(client, org, next_page)
    assert status == 303, page.text()
    back = await at_idp(client, location)
    assert back.startswith(client.root), back
    return await client.get(back.removeprefix(client.root), allow_redirects=False)


async def follow_continue(client: Console, page: Page) -> Page:
    """What the continue page's meta refresh opens (a navigation of the console's own)."""
    refresh = page.html.find("meta", attrs={"http-equiv": "refresh"})
    assert refresh is not None, page.text()
    target = str(refresh["content"]).split("url=", 1)[1]
    assert target == page.html.select_one("a.continue")["href"]
    return await client.get(target)


async def audit_rows(dsn: str, action: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        return await connection.fetch(
            "SELECT * FROM audit_log WHERE action = $1 ORDER BY id", action
        )
    finally:
        await connection.close()


async def role_of(dsn: str, email: str, tenant: str = "a") -> str | None:
    connection = await asyncpg.connect(dsn)
    try:
        role: str | None = await connection.fetchval(
            "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id"
            " JOIN tenants t ON t.id = m.tenant_id WHERE u.email = $1 AND t.slug = $2",
            email,
            tenant,
        )
        return role
    finally:
        await connection.close()
