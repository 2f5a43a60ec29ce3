"""The tenants pages: platform administrators only; creating, editing plan, limits and
models, suspending (after a confirmation) and activating."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Page
from tests.admin_ui.page_checks import audited, error_of, post_form


async def tenant(world: World, slug: str) -> dict[str, Any]:
    status, body = await world.call("platform", "GET", f"/tenants/{slug}")
    assert status == 200
    return dict(body)


def menu(page: Page) -> list[tuple[str, str]]:
    return [(a.get_text(strip=True), a["href"]) for a in page.html.select("nav.side a")]


async def test_only_platform_admins_open_the_tenants_pages(
    world: World, console: ConsoleFactory
) -> None:
    root = await console("platform")
    page = await root.get("/admin/tenants")
    assert page.status == 200
    rows = [[td.get_text(strip=True) for td in tr("td")] for tr in page.html.select("tbody tr")]
    assert [row[:4] for row in rows] == [
        ["a", "Tenant A", "active", "free"],
        ["b", "Tenant B", "active", "free"],
    ]
    assert ("Tenants", "/admin/tenants") in menu(page)
    assert (await root.get("/admin/tenants/b")).status == 200
    for who in ("owner", "admin", "member", "viewer"):
        member = await console(who)
        home = await member.get("/admin/")
        assert ("Tenants", "/admin/tenants") not in menu(home)
        for path in ("/admin/tenants", "/admin/tenants/a", "/admin/tenants/a/suspend"):
            assert (await member.get(path)).status == 403, (who, path)
        created = await member.post("/admin/tenants", {"slug": "x", "name": "X"})
        assert created.status == 403
        assert (await member.post("/admin/tenants/a/suspend")).status == 403
        assert (
            await member.post("/admin/tenants/a", {"name": "Mine", "plan": "free"})
        ).status == 403
    owner_b = await console("owner-b")
    assert (await owner_b.get("/admin/tenants")).status == 403
    for path in ("/admin/tenants/a", "/admin/tenants/a/suspend"):
        refused = await owner_b.get(path)
        assert refused.status == 404 and "Tenant A" not in refused.text()
    assert (await owner_b.post("/admin/tenants/a/suspend")).status == 404
    _, listed = await world.call("platform", "GET", "/tenants")
    assert [t["slug"] for t in listed["data"]] == ["a", "b"]
    a = await tenant(world, "a")
    assert (a["name"], a["status"]) == ("Tenant A", "active")


async def test_creating_a_tenant(world: World, console: ConsoleFactory) -> None:
    root = await console("platform")
    page = await root.get("/admin/tenants")
    action = "/admin/tenants"
    assert [o["value"] for o in page.html.select("#f-plan option")] == [
        "free",
        "starter",
        "professional",
        "enterprise",
    ]
    missing = await root.submit(page, action, slug="", name="Tenant C")
    assert missing.status == 400 and error_of(missing, "slug") == "This field is required."
    assert missing.form(action)["name"] == "Tenant C"
    bad = await root.submit(page, action, slug="Not A Slug", name="Tenant C")
    assert bad.status == 400 and "lowercase" in error_of(bad, "slug")
    taken = await root.submit(page, action, slug="a", name="Another A")
    assert taken.status == 409 and "already exists" in error_of(taken, "slug")
    plan = await root.submit(page, action, slug="c", name="Tenant C", plan="platinum")
    assert plan.status == 400 and "free" in error_of(plan, "plan")
    assert (await world.call("platform", "GET", "/tenants/c"))[0] == 404

    done = await post_form(root, page, action, slug="c", name="Tenant C", plan="starter")
    assert done.status == 303 and done.headers["Location"] == "/admin/tenants/c"
    shown = await root.get("/admin/tenants/c")
    assert "Tenant c created." in shown.text()
    c = await tenant(world, "c")
    assert (c["name"], c["plan"], c["status"]) == ("Tenant C", "starter", "active")
    [entry] = await audited(world, "tenant.create&target=" + c["id"])
    assert entry["actor_label"] == "root@platform.example"
    assert entry["changes"] == {"slug": "c", "name": "Tenant C", "plan": "starter"}


async def test_editing_suspending_and_activating_a_tenant(
    world: World, console: ConsoleFactory
) -> None:
    root = await console("platform")
    page = await root.get("/admin/tenants/a")
    action = "/admin/tenants/a"
    form = page.form(action)
    assert (form["name"], form["plan"], form["rpm"], form["budget_period"]) == (
        "Tenant A",
        "free",
        "",
        "",
    )
    models = [box["value"] for box in page.html.select("input[name=allowed_models]")]
    assert models == ["demo", "demo-embed"]  # the routing table's
    for fields, field, message in [
        ({"rpm": "-1"}, "rpm", "greater than or equal to 0"),
        ({"tpm": "lots"}, "tpm", "valid integer"),
        ({"name": ""}, "name", "required"),
        ({"budget_usd": "5"}, "budget_period", "needs a budget_period"),
        ({"allowed_models": "gpt-9"}, "allowed_models", "gpt-9"),
        ({"plan": "platinum"}, "plan", "one of"),
    ]:
        refused = await root.submit(page, action, **fields)
        assert refused.status == 400, fields
        assert message in error_of(refused, field), fields
    assert (await tenant(world, "a"))["plan"] == "free"

    saved = await post_form(
        root,
        page,
        action,
        plan="starter",
        rpm="60",
        max_parallel="4",
        budget_usd="12.5",
        budget_period="month",
        allowed_models="demo",
    )
    assert saved.status == 303 and saved.headers["Location"] == action
    a = await tenant(world, "a")
    assert (a["plan"], a["rpm"], a["tpm"], a["max_parallel"]) == ("starter", 60, None, 4)
    assert Decimal(a["budget_usd"]) == Decimal("12.5") and a["budget_period"] == "month"
    assert a["allowed_models"] == ["demo"]
    page = await root.get(action)
    assert "Settings saved." in page.text()
    assert page.form(action) | {"csrf_token": ""} == form | {
        "csrf_token": "",
        "plan": "starter",
        "rpm": "60",
        "max_parallel": "4",
        "budget_usd": "12.5000000000",
        "budget_period": "month",
        "allowed_models": "demo",
    }
    [entry] = await audited(world, "tenant.update")
    assert entry["changes"]["plan"] == ["free", "starter"]
    assert entry["changes"]["rpm"] == [None, 60]
    assert entry["changes"]["allowed_models"] == [None, ["demo"]]

    confirm = await root.get("/admin/tenants/a/suspend")
    assert confirm.status == 200 and "Suspend tenant a?" in confirm.text()
    assert (await tenant(world, "a"))["status"] == "active"  # the question changes nothing
    suspended = await post_form(root, confirm, "/admin/tenants/a/suspend")
    assert suspended.status == 303 and suspended.headers["Location"] == action
    assert (await tenant(world, "a"))["status"] == "suspended"
    page = await root.get(action)
    assert "is suspended" in page.text()
    activated = await post_form(root, page, "/admin/tenants/a/activate")
    assert activated.status == 303
    assert (await tenant(world, "a"))["status"] == "active"
    assert [e["changes"]["status"] for e in await audited(world, "tenant.suspend")] == [
        ["active", "suspended"]
    ]
    assert len(await audited(world, "tenant.activate")) == 1
