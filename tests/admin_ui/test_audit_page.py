"""The audit log pages: filters, pages that add up to the whole log, tenant isolation, and
who may read which log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.management import keys as manage_keys
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console, Page


def entries(page: Page) -> list[dict[str, str]]:
    columns = [th.text.lower() for th in page.html.select("table.audit thead th")]
    return [
        dict(zip(columns, (td.get_text(" ", strip=True) for td in tr.select("td")), strict=True))
        for tr in page.html.select("table.audit tbody tr")
    ]


async def every_page(client: Console, path: str) -> list[dict[str, str]]:
    """Follows the "Older" links to the end."""
    seen, page = [], await client.get(path)
    while True:
        assert page.status == 200
        seen += entries(page)
        older = page.html.select_one("nav.pager a[rel=next]")
        if older is None:
            return seen
        page = await client.get(older["href"])


async def test_a_tenants_log_filters_and_pages_through_its_own_entries_only(
    world: World, console: ConsoleFactory, pool: asyncpg.Pool
) -> None:
    admin = Actor(type="user", id=world.ids["user-admin"], label="admin@a.example")
    made = [
        await manage_keys.create(pool, admin, "a", KeySettings(name=f"batch {i}")) for i in range(7)
    ]
    b_key = await manage_keys.create(pool, admin, "b", KeySettings(name="b's key"))
    total = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE tenant_id = $1", uuid.UUID(world.ids["tenant-a"])
    )

    owner = await console("owner")
    first = await owner.get("/admin/t/a/audit?limit=4")
    assert first.status == 200 and len(entries(first)) == 4
    assert first.html.select_one("nav.pager a[rel=prev]") is None
    walked = await every_page(owner, "/admin/t/a/audit?limit=4")
    assert len(walked) == total > 8
    assert len({(e["when (utc)"], e["target"]) for e in walked}) == total, "a page repeated"
    assert walked[0]["target"] == f"api_key {made[-1].key.id}", "newest first"
    assert all(str(b_key.key.id) not in e["target"] for e in walked)
    second = await owner.get("/admin/t/a/audit?limit=4&offset=4")
    newer = second.html.select_one("nav.pager a[rel=prev]")
    assert newer is not None and "offset=0" in newer["href"]

    mine = await every_page(owner, "/admin/t/a/audit?actor=admin@a.example&action=key.create")
    assert [e["target"] for e in mine] == [f"api_key {k.key.id}" for k in reversed(made)]
    assert all(e["actor"].startswith("admin@a.example") for e in mine)
    one = entries(await owner.get(f"/admin/t/a/audit?target={made[2].key.id}"))
    assert len(one) == 1 and '"name": "batch 2"' in one[0]["changes"]
    assert not entries(await owner.get("/admin/t/a/audit?action=tenant.delete"))
    # Clicking an actor filters by it, and keeps the other filters.
    page = await owner.get("/admin/t/a/audit?action=key.create")
    link = page.html.select_one("table.audit td a[href*=actor]")["href"]
    assert "action=key.create" in link and "actor=admin%40a.example" in link

    today = datetime.now(UTC).date()
    days = f"since={today}&until={today}"
    assert len(await every_page(owner, f"/admin/t/a/audit?{days}")) == total
    assert not entries(await owner.get(f"/admin/t/a/audit?since={today + timedelta(days=1)}"))
    assert not entries(await owner.get(f"/admin/t/a/audit?until={today - timedelta(days=1)}"))
    # Naming another tenant in the query changes nothing on a tenant's page.
    assert len(await every_page(owner, "/admin/t/a/audit?tenant=b")) == total

    platform = await console("platform")
    everything = await every_page(platform, "/admin/audit?action=key.create")
    assert {e["target"] for e in everything} >= {f"api_key {b_key.key.id}"}
    only_b = await every_page(platform, "/admin/audit?tenant=b&action=key.create")
    assert {e["tenant"] for e in only_b} == {"b"}
    assert f"api_key {b_key.key.id}" in [e["target"] for e in only_b]
    unknown = await platform.get("/admin/audit?tenant=nope")
    assert unknown.status == 400 and "no tenant 'nope'" in " ".join(unknown.errors())


async def test_who_may_read_the_audit_log(world: World, console: ConsoleFactory) -> None:
    for who, status in [
        ("owner", 200),
        ("admin", 200),
        ("member", 403),
        ("viewer", 403),
        ("platform", 200),
    ]:
        client = await console(who)
        page = await client.get("/admin/t/a/audit")
        assert page.status == status, who
        assert (status == 200) == ("key.create" in page.text()), who
        links = [a["href"] for a in page.html.select("nav.side a")]
        assert ("/admin/t/a/audit" in links) == (status == 200), who
        assert (await client.get("/admin/audit")).status == (200 if who == "platform" else 403)
    owner_b = await console("owner-b")
    refused = await owner_b.get("/admin/t/a/audit")
    assert refused.status == 404 and world.ids["key-a"] not in refused.text()
    owner = await console("owner")
    for query in ("since=soon", "limit=0", "offset=-1", f"actor={'x' * 400}"):
        assert (await owner.get(f"/admin/t/a/audit?{query}")).status == 400, query
