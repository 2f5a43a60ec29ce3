"""The API keys page: everyone in the tenant reads the list; members and up create keys, the
secret shown once; owners and admins revoke after a confirmation; and the key works with
the `openai` SDK until it is revoked. Nobody reaches another tenant's keys."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import openai
import pytest

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Page
from tests.admin_ui.page_checks import audited, error_of, post_form

PAGE = "/admin/t/a/keys"


def rows(page: Page) -> dict[str, list[str]]:
    """Key name -> the text of its row's cells."""
    found = {}
    for tr in page.html.select("table.keys tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in tr("td")]
        found[cells[0]] = cells
    return found


async def api_keys(world: World, slug: str = "a") -> dict[str, dict[str, Any]]:
    status, body = await world.call("platform", "GET", f"/tenants/{slug}/keys")
    assert status == 200
    return {k["name"]: k for k in body["data"]}


async def stored_flashes(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT flash FROM admin_sessions WHERE flash IS NOT NULL")
        return [r["flash"] for r in rows]
    finally:
        await connection.close()


async def chat(world: World, secret: str) -> str | None:
    async with openai.AsyncOpenAI(
        api_key=secret, base_url=world.root + "/v1", max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "hello"}]
        )
        return reply.choices[0].message.content


async def test_everyone_in_the_tenant_reads_keys_and_roles_decide_the_rest(
    world: World, console: ConsoleFactory
) -> None:
    for who in ("owner", "admin", "member", "viewer", "platform"):
        client = await console(who)
        page = await client.get(PAGE)
        assert page.status == 200, who
        assert list(rows(page)) == ["key-a"]
        assert rows(page)["key-a"][2] == "—"  # made by the test setup, no user
        assert rows(page)["key-a"][9] == "active"
        assert ("API keys", PAGE) in [(a.text, a["href"]) for a in page.html.select("nav.side a")]
        creates = page.html.find("a", href=f"{PAGE}/new") is not None
        revokes = page.html.find("a", href=f"{PAGE}/{world.ids['key-a']}/revoke") is not None
        assert (creates, revokes) == (who != "viewer", who in ("owner", "admin", "platform"))
    viewer = await console("viewer")
    assert (await viewer.get(f"{PAGE}/new")).status == 403
    assert (await viewer.post(PAGE, {"name": "mine"})).status == 403
    member = await console("member")
    key_a = f"{PAGE}/{world.ids['key-a']}/revoke"
    assert (await member.get(key_a)).status == 403
    assert (await member.post(key_a)).status == 403
    owner_b = await console("owner-b")
    for path in (PAGE, f"{PAGE}/new", f"{PAGE}/created", key_a):
        refused = await owner_b.get(path)
        assert refused.status == 404 and "key-a" not in refused.text(), path
    assert (await owner_b.post(key_a)).status == 404
    owner_a = await console("owner")
    key_b = f"{PAGE}/{world.ids['key-b']}/revoke"  # tenant b's key under tenant a
    for page in (await owner_a.get(key_b), await owner_a.post(key_b)):
        assert page.status == 404 and "key-b" not in page.text()
    assert (await owner_a.post("/admin/t/b/keys", {"name": "planted"})).status == 404
    assert (await owner_a.post(f"/admin/t/b/keys/{world.ids['key-b']}/revoke")).status == 404
    assert (await api_keys(world, "b"))["key-b"]["revoked_at"] is None
    assert list(await api_keys(world, "b")) == ["key-b"]
    assert (await api_keys(world))["key-a"]["revoked_at"] is None
    assert (await owner_a.get(f"{PAGE}/{world.ids['key-a']}x/revoke")).status == 400


async def test_the_key_form_names_what_is_wrong(world: World, console: ConsoleFactory) -> None:
    member = await console("member")
    page = await member.get(f"{PAGE}/new")
    for fields, field, message in [
        ({"name": ""}, "name", "This field is required."),
        ({"rpm": "-5"}, "rpm", "greater than or equal to 0"),
        ({"tags": "team=search\nnonsense"}, "tags", "line 2 is not key=value"),
        ({"expires_at": "2001-01-01"}, "expires_at", "must be in the future"),
        ({"expires_at": "soon"}, "expires_at", "enter a date"),
        ({"budget_usd": "3"}, "budget_period", "needs a budget_period"),
        ({"budget_period": "week"}, "budget_period", "'day' or 'month'"),
        ({"models": "gpt-9"}, "models", "is not one of the models offered"),
    ]:
        typed = {"name": "ci bot", "tags": "team=search"} | fields
        refused = await member.submit(page, PAGE, **typed)
        assert refused.status == 400, fields
        assert message in error_of(refused, field), fields
        kept = refused.form(PAGE)
        assert (kept["name"], kept["tags"]) == (typed["name"], typed["tags"])
    assert list(await api_keys(world)) == ["key-a"]


async def test_a_new_key_is_shown_once_works_and_stops_when_revoked(
    world: World, console: ConsoleFactory, pg_dsn: str
) -> None:
    member = await console("member")
    page = await member.get(f"{PAGE}/new")
    models = [box["value"] for box in page.html.select("input[name=models]")]
    assert models == ["demo", "demo-embed"]
    expiry = (datetime.now(UTC) + timedelta(days=30)).date()
    created = await post_form(
        member,
        page,
        PAGE,
        name="ci bot",
        models="demo",
        rpm="100",
        budget_usd="5",
        budget_period="day",
        tags="team=search\n cost_centre = cc-42 \n",
        expires_at=expiry.isoformat(),
    )
    assert created.status == 303 and created.headers["Location"] == f"{PAGE}/created"
    [sealed] = await stored_flashes(pg_dsn)
    assert "sk-" not in sealed  # sealed with the session token, which only the cookie has
    shown = await member.get(f"{PAGE}/created")
    secret_tag = shown.html.select_one("#new-key-secret")
    assert secret_tag is not None
    secret = secret_tag.get_text(strip=True)
    assert secret.startswith("sk-") and len(secret) > 30
    assert await stored_flashes(pg_dsn) == []  # read and cleared by showing it
    copy = shown.html.select_one("button[data-copy=new-key-secret]")
    assert copy is not None and copy.has_attr("hidden")  # copy.js shows it where it can copy
    script = shown.html.select_one("script[src]")["src"]
    assert script.startswith("/admin/static/copy.js")
    async with member.session.get(world.root + script) as response:
        assert response.status == 200 and "navigator.clipboard" in await response.text()
    again = await member.get(f"{PAGE}/created")
    assert again.status == 200 and secret not in str(again.html)
    assert "shown only once" in again.text()

    listing = await member.get(PAGE)
    assert secret not in str(listing.html)
    row = rows(listing)["ci bot"]
    key = (await api_keys(world))["ci bot"]
    assert row[1] == key["prefix"] and secret.startswith(key["prefix"].split("…")[0])
    assert row[2] == "member@a.example"
    assert row[5] == "100 req/min $5 a day"
    assert (row[6], row[7], row[8]) == ("demo", "cost_centre=cc-42 team=search", str(expiry))
    assert (key["rpm"], key["allowed_models"], key["budget_period"]) == (100, ["demo"], "day")
    assert Decimal(key["budget_usd"]) == 5
    assert key["tags"] == {"team": "search", "cost_centre": "cc-42"}
    assert date.fromisoformat(key["expires_at"][:10]) == expiry
    [entry] = await audited(world, "key.create&target=" + key["id"])
    assert entry["actor_label"] == "member@a.example" and entry["changes"]["name"] == "ci bot"
    assert secret not in json.dumps(entry)

    assert await chat(world, secret)

    admin = await console("admin")
    revoke = f"{PAGE}/{key['id']}/revoke"
    confirm = await admin.get(revoke)
    assert confirm.status == 200 and "Revoke key ci bot?" in confirm.text()
    assert (await api_keys(world))["ci bot"]["revoked_at"] is None  # asking changes nothing
    revoked = await post_form(admin, confirm, revoke)
    assert revoked.status == 303 and revoked.headers["Location"] == PAGE
    listing = await admin.get(PAGE)
    assert "is revoked" in listing.text()
    assert rows(listing)["ci bot"][9].startswith("revoked")
    assert (await api_keys(world))["ci bot"]["revoked_at"] is not None
    assert len(await audited(world, "key.revoke&target=" + key["id"])) == 1
    assert (await admin.get(revoke)).status == 404  # nothing left to revoke
    await _refused(world, secret)


async def _refused(world: World, secret: str) -> None:
    """Revocation reaches every process within a second; allow a little more."""
    for _ in range(30):
        try:
            await chat(world, secret)
        except openai.AuthenticationError as exc:
            assert exc.status_code == 401
            return
        await asyncio.sleep(0.1)
    pytest.fail("a revoked key still works")
