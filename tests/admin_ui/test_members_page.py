"""The members page: everyone in the tenant reads it with the role table; owners and admins
add, change and remove members; only owners (and platform administrators) touch the owner
role; nobody reaches another tenant's members."""

from __future__ import annotations

from typing import Any

from gateway.roles import Action
from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Page
from tests.admin_ui.page_checks import audited, error_of, post_form

PAGE = "/admin/t/a/members"


def listed(page: Page) -> dict[str, str]:
    """Email -> role as the page shows it (a select's chosen option where it is editable)."""
    rows = {}
    for tr in page.html.select("table.members tbody tr"):
        email = tr.td.get_text(" ", strip=True).removesuffix(" (you)")
        chosen = tr.select_one("option[selected]") or tr.select_one(".role")
        rows[email] = chosen.get_text(strip=True)
    return rows


async def members(world: World, slug: str = "a") -> dict[str, Any]:
    status, body = await world.call("platform", "GET", f"/tenants/{slug}/members")
    assert status == 200
    return {m["email"]: m for m in body["data"]}


async def test_everyone_in_the_tenant_reads_members_and_roles(
    world: World, console: ConsoleFactory
) -> None:
    everyone = {
        "admin@a.example": "admin",
        "member@a.example": "member",
        "owner@a.example": "owner",
        "viewer@a.example": "viewer",
    }
    for who in ("owner", "admin", "member", "viewer", "platform"):
        client = await console(who)
        page = await client.get(PAGE)
        assert page.status == 200, who
        assert listed(page) == everyone
        assert ("Members", PAGE) in [(a.text, a["href"]) for a in page.html.select("nav.side a")]
        table = page.html.select("table.role-table tbody tr")
        assert len(table) == len(Action)
        revoke = next(tr for tr in table if tr.td.get_text(strip=True) == "key.revoke")
        flags = [td.span["class"] for td in revoke("td")[1:]]
        assert flags == [["yes"], ["yes"], ["no"], ["no"]]  # owner, admin, member, viewer
        manages = who in ("owner", "admin", "platform")
        assert (page.html.find("form", action=PAGE) is not None) == manages, who
    viewer_id = world.ids["user-viewer"]
    for who in ("member", "viewer"):
        client = await console(who)
        added = await client.post(PAGE, {"email": "x@a.example", "role": "viewer"})
        assert added.status == 403
        changed = await client.post(f"{PAGE}/{viewer_id}", {"role": "admin"})
        assert changed.status == 403
        assert (await client.get(f"{PAGE}/{viewer_id}/remove")).status == 403
        assert (await client.post(f"{PAGE}/{viewer_id}/remove")).status == 403
    owner_b = await console("owner-b")
    refused = await owner_b.get(PAGE)
    assert refused.status == 404 and "owner@a.example" not in refused.text()
    assert listed(await owner_b.get("/admin/t/b/members")) == {"owner@b.example": "owner"}
    assert set(await members(world)) == set(everyone)


async def test_admins_add_change_and_remove_members(world: World, console: ConsoleFactory) -> None:
    admin = await console("admin")
    page = await admin.get(PAGE)
    assert [o["value"] for o in page.html.select("#f-role option")] == ["admin", "member", "viewer"]
    assert page.html.find("form", action=f"{PAGE}/{world.ids['user-owner']}") is None
    bad = await admin.submit(page, PAGE, email="not-an-address", role="member")
    assert bad.status == 400 and "valid address" in error_of(bad, "email")
    assert bad.form(PAGE)["email"] == "not-an-address"
    bad = await admin.submit(page, PAGE, email="new@a.example", role="boss")
    assert bad.status == 400 and "owner, admin, member, viewer" in error_of(bad, "role")
    bad = await admin.submit(page, PAGE, email="", role="member")
    assert bad.status == 400 and error_of(bad, "email") == "This field is required."
    # The owner rule: an admin neither makes an owner nor demotes one, even by "adding" them.
    assert (await admin.submit(page, PAGE, email="new@a.example", role="owner")).status == 403
    assert (await admin.submit(page, PAGE, email="owner@a.example", role="viewer")).status == 403
    _, users = await world.call("platform", "GET", "/users")
    assert "new@a.example" not in {u["email"] for u in users["data"]}  # nobody was invited

    added = await post_form(admin, page, PAGE, email="new@a.example", role="member")
    assert added.status == 303 and added.headers["Location"] == PAGE
    page = await admin.get(PAGE)
    assert "new@a.example is now member." in page.text()
    assert listed(page)["new@a.example"] == "member"
    new_id = (await members(world))["new@a.example"]["id"]
    assert new_id in [e["target_id"] for e in await audited(world, "user.create")]
    [entry] = await audited(world, "membership.create&target=" + new_id)
    assert entry["changes"]["role"] == [None, "member"]
    assert entry["actor_label"] == "admin@a.example"

    action = f"{PAGE}/{new_id}"
    bad = await admin.submit(page, action, role="boss")
    assert bad.status == 400 and "role must be one of" in " ".join(bad.errors())
    changed = await post_form(admin, page, action, role="viewer")
    assert changed.status == 303
    assert (await members(world))["new@a.example"]["role"] == "viewer"
    [entry] = await audited(world, "membership.update&target=" + new_id)
    assert entry["changes"]["role"] == ["member", "viewer"]
    assert (await admin.post(action, {"role": "owner"})).status == 403
    owner_id = world.ids["user-owner"]
    assert (await admin.post(f"{PAGE}/{owner_id}", {"role": "viewer"})).status == 403
    assert (await admin.get(f"{PAGE}/{owner_id}/remove")).status == 403
    assert (await admin.post(f"{PAGE}/{owner_id}/remove")).status == 403
    assert (await members(world))["owner@a.example"]["role"] == "owner"

    confirm = await admin.get(f"{action}/remove")
    assert confirm.status == 200 and "Remove new@a.example from a?" in confirm.text()
    assert "new@a.example" in await members(world)  # the question changes nothing
    removed = await post_form(admin, confirm, f"{action}/remove")
    assert removed.status == 303 and removed.headers["Location"] == PAGE
    assert "new@a.example" not in await members(world)
    assert "new@a.example" not in listed(await admin.get(PAGE))
    [entry] = await audited(world, "membership.delete&target=" + new_id)
    assert entry["changes"]["role"] == ["viewer", None]


async def test_owners_grant_the_owner_role_but_never_in_another_tenant(
    world: World, console: ConsoleFactory
) -> None:
    owner = await console("owner")
    page = await owner.get(PAGE)
    assert "owner" in [o["value"] for o in page.html.select("#f-role option")]
    member_id = world.ids["user-member"]
    promoted = await post_form(owner, page, f"{PAGE}/{member_id}", role="owner")
    assert promoted.status == 303
    assert (await members(world))["member@a.example"]["role"] == "owner"

    owner_b_id = world.ids["user-owner-b"]
    for method, path, data in [
        ("POST", f"{PAGE}/{owner_b_id}", {"role": "viewer"}),
        ("GET", f"{PAGE}/{owner_b_id}/remove", None),
        ("POST", f"{PAGE}/{owner_b_id}/remove", {}),
        ("GET", "/admin/t/b/members", None),
        ("POST", "/admin/t/b/members", {"email": "spy@a.example", "role": "owner"}),
        ("POST", f"/admin/t/b/members/{owner_b_id}", {"role": "viewer"}),
        ("POST", f"/admin/t/b/members/{owner_b_id}/remove", {}),
    ]:
        page = await (owner.get(path) if method == "GET" else owner.post(path, data))
        assert page.status == 404, (method, path)
        assert "owner@b.example" not in page.text()
    assert {e: m["role"] for e, m in (await members(world, "b")).items()} == {
        "owner@b.example": "owner"
    }
    assert "owner@b.example" not in await members(world)
