"""The usage and cost explorer: groupings, ranges, chart, totals and CSV export match the
requests really made; names instead of ids; validation; who may see which tenant's usage."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.admin_api.world import World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Console, Page
from tests.admin_ui.traffic import (
    backdated,
    chat,
    dollars,
    expected,
    new_key,
    number,
    priced_world,
    settled,
)
from tests.conftest import GatewayFactory

FORMULA_KEY = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    return await priced_world(start_gateway, pg_dsn)


def table(page: Page) -> dict[str, list[str]]:
    """Group label -> requests, errors, cache hits, prompt and completion tokens, spend."""
    rows = page.html.select("table.usage tbody tr")
    return {tr.td.text: [td.text for td in tr.select("td")[1:7]] for tr in rows}


def grouped(rows: list[Any], label: Callable[[Any], str]) -> dict[str, list[str]]:
    """What the table must show, worked out from raw usage rows."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[label(row)].append(row)
    shown = {}
    for name, members in groups.items():
        want = expected(members)
        shown[name] = [
            f"{want.requests:,}",
            f"{want.errors:,}",
            f"{want.cache_hits:,}",
            f"{want.prompt_tokens:,}",
            f"{want.completion_tokens:,}",
            dollars(want.cost),
        ]
    return shown


async def download(client: Console, path: str) -> tuple[aiohttp.ClientResponse, list[list[str]]]:
    async with client.session.get(client.root + path) as response:
        return response, list(csv.reader(io.StringIO(await response.text())))


async def test_the_explorer_shows_and_exports_a_tenants_own_usage(
    world: World, console: ConsoleFactory, pool: asyncpg.Pool
) -> None:
    owner_id = uuid.UUID(world.ids["user-owner"])
    research = await new_key(
        pool, "a", "research key", user_id=owner_id, tags={"cost_center": "research"}
    )
    sly = await new_key(pool, "a", FORMULA_KEY, tags={"cost_center": "+cmd"})
    other = await new_key(pool, "b", "b secret project", tags={"cost_center": "b-centre"})
    await chat(world, research, ["hello there", "hello there", "count to three"], failures=1)
    await chat(world, sly, ["a formula asks a question"])
    await chat(world, other, ["tenant b asks"])
    await settled(pool, world.ids["tenant-b"], 1)
    await backdated(pool, world.ids["tenant-a"], 3, prompt_tokens=7, cost_usd=Decimal(100))
    rows = await settled(pool, world.ids["tenant-a"], 6)
    keys = await pool.fetch("SELECT id, name FROM api_keys")
    names = {k["id"]: k["name"] for k in keys}

    member = await console("member")
    by_key = await member.get("/admin/t/a/usage?group_by=key")
    assert by_key.status == 200
    assert table(by_key) == grouped(rows, lambda r: names.get(r["key_id"], "(none)"))
    text = by_key.text()
    assert "b secret project" not in text and world.ids["key-b"] not in text
    assert not any(str(r["key_id"]) in text for r in rows), "a key shown by id, not name"
    by_user = await member.get("/admin/t/a/usage?group_by=user")
    emails = {owner_id: "owner@a.example"}
    assert table(by_user) == grouped(rows, lambda r: emails.get(r["user_id"], "(none)"))
    by_tag = await member.get("/admin/t/a/usage?group_by=tag&tag=cost_center")
    assert table(by_tag) == grouped(rows, lambda r: r["tags"].get("cost_center", "(none)"))
    by_model = await member.get("/admin/t/a/usage?group_by=model&metric=requests")
    assert table(by_model) == grouped(rows, lambda r: r["model"] or "(none)")
    bars = by_model.html.select("figure.chart rect.bar")
    assert sorted(bar.title.text for bar in bars) == sorted(
        f"{name}: {cells[0]}" for name, cells in table(by_model).items()
    )

    # Days: today alone leaves out the request from three days ago.
    today = datetime.now(UTC).date()
    recent = [r for r in rows if r["at"].date() == today]
    day = await member.get(f"/admin/t/a/usage?group_by=day&since={today}&until={today}")
    assert table(day) == grouped(recent, lambda r: str(today))
    footer = [td.text for td in day.html.select("table.usage tfoot td")]
    assert footer[0] == f"{len(recent):,}" and footer[5] == dollars(expected(recent).cost)
    assert number(footer[5]) < 100
    month = await member.get("/admin/t/a/usage")  # the last 30 days, by day
    assert sum(number(cells[0]) for cells in table(month).values()) == len(rows)

    # CSV: the same report, every figure exact, formulas defused.
    response, lines = await download(member, "/admin/t/a/usage?group_by=key&format=csv")
    assert response.status == 200 and response.content_type == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and 'filename="usage-a-' in disposition
    assert lines[0] == [
        "key",
        "name",
        "requests",
        "errors",
        "cache_hits",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "mean_latency_ms",
    ]
    exported = {line[1]: line for line in lines[1:]}
    assert exported.keys() == {"research key", "'" + FORMULA_KEY, "(none)"}
    for name, line in exported.items():
        members = [r for r in rows if names.get(r["key_id"], "(none)") == name.lstrip("'")]
        want = expected(members)
        assert [int(v) for v in line[2:7]] == [
            want.requests,
            want.errors,
            want.cache_hits,
            want.prompt_tokens,
            want.completion_tokens,
        ]
        assert Decimal(line[7]) == want.cost
        assert line[0] in {str(members[0]["key_id"]), "00000000-0000-0000-0000-000000000000"}
    _, tags = await download(member, "/admin/t/a/usage?group_by=tag&tag=cost_center&format=csv")
    assert tags[0][0] == "tag:cost_center"
    assert {line[0] for line in tags[1:]} == {"research", "'+cmd", ""}

    platform = await (await console("platform")).get("/admin/usage?group_by=key")
    assert platform.status == 200
    assert {"research key", "b secret project"} <= table(platform).keys()


async def test_who_may_explore_and_what_the_form_refuses(
    world: World, console: ConsoleFactory
) -> None:
    for who in ("owner", "admin", "member", "viewer", "platform"):
        client = await console(who)
        page = await client.get("/admin/t/a/usage")
        assert page.status == 200, who
        assert ("Usage & cost", "/admin/t/a/usage") in [
            (a.text, a["href"]) for a in page.html.select("nav.side a")
        ]
        assert (await client.get("/admin/usage")).status == (200 if who == "platform" else 403)
    owner_b = await console("owner-b")
    assert (await owner_b.get("/admin/t/a/usage")).status == 404
    response, _ = await download(owner_b, "/admin/t/a/usage?format=csv")
    assert response.status == 404 and response.content_type == "text/html"

    owner = await console("owner")
    today = datetime.now(UTC).date()
    cases: list[tuple[str, str | None]] = [
        (f"since={today}&until={today - timedelta(days=1)}", "since"),
        ("since=yesterday", "since"),
        ("group_by=tag", "tag"),
        ("group_by=planet", "group_by"),
        ("group_by=tag:", "group_by"),
        ("metric=vibes", "metric"),
        ("format=xlsx", None),
    ]
    for query, field in cases:
        page = await owner.get(f"/admin/t/a/usage?{query}")
        assert page.status == 400, query
        invalid = page.html.select(".field.invalid input, .field.invalid select")
        assert [element["name"] for element in invalid] == ([field] if field else []), query
        assert page.errors(), query
        assert not page.html.select("table.usage"), query
