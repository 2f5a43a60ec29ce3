"""The overview pages: a tenant's numbers and the platform's, from real requests; periods,
charts and top lists; who may open them; where the console's home sends people."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import pytest

from gateway.management import users as manage_users
from tests.admin_api.world import SETUP, World
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Page
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


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    return await priced_world(start_gateway, pg_dsn)


def stats(page: Page) -> dict[str, str]:
    return {div.dt.text: div.dd.text for div in page.html.select("dl.stats > div")}


def chart_total(page: Page, title: str) -> Decimal:
    """The sum of a chart's bars, read from each bar's tooltip ("14:00: 3")."""
    figure = next(f for f in page.html.select("figure.chart") if f.figcaption.text == title)
    return sum(
        (number(bar.title.text.rsplit(": ", 1)[1]) for bar in figure.select("rect.bar")),
        Decimal(0),
    )


def top(page: Page, title: str) -> list[list[str]]:
    section = next(s for s in page.html.select(".tops section") if s.h2.text == title)
    return [[td.text for td in tr.select("td")] for tr in section.select("tbody tr")]


async def test_a_tenants_overview_shows_its_own_traffic_only(
    world: World, console: ConsoleFactory, pool: asyncpg.Pool
) -> None:
    research = await new_key(pool, "a", "research key", tags={"cost_center": "research"})
    plain = await new_key(pool, "a", "plain key")
    other = await new_key(pool, "b", "b secret project", tags={"cost_center": "b-centre"})
    await chat(world, research, ["hello there", "hello there", "count to three"], failures=1)
    await chat(world, plain, ["one more question for the demo model"])
    await chat(world, other, ["tenant b asks", "and asks again"])
    a_rows = await settled(pool, world.ids["tenant-a"], 5)
    b_rows = await settled(pool, world.ids["tenant-b"], 2)
    want = expected(a_rows)
    assert (want.errors, want.cache_hits) == (1, 1), "the traffic is not what the test needs"
    await backdated(pool, world.ids["tenant-a"], 3, prompt_tokens=7, cost_usd=Decimal(100))

    viewer = await console("viewer")
    page = await viewer.get("/admin/t/a/")
    assert page.status == 200
    assert stats(page) == {
        "Requests": f"{want.requests:,}",
        "Tokens": f"{want.prompt_tokens + want.completion_tokens:,}",
        "Spend": dollars(want.cost),
        "Error rate": f"{100 * want.errors / want.requests:.1f}%",
        "Cache hit rate": f"{100 * want.cache_hits / want.requests:.1f}%",
        "Latency p50": f"{want.p50:,.0f} ms",
        "Latency p95": f"{want.p95:,.0f} ms",
    }
    assert len(page.html.select("figure.chart:first-of-type rect.bar")) == 24
    assert chart_total(page, "Requests") == want.requests
    assert chart_total(page, "Tokens") == want.prompt_tokens + want.completion_tokens
    assert chart_total(page, "Spend") == want.cost.quantize(Decimal("0.01"))
    tagged = expected([r for r in a_rows if r["tags"].get("cost_center") == "research"])
    untagged = expected([r for r in a_rows if not r["tags"]])
    assert sorted(top(page, "Top cost centres")) == [
        [
            "(none)",
            "1",
            f"{untagged.prompt_tokens + untagged.completion_tokens:,}",
            dollars(untagged.cost),
        ],
        [
            "research",
            "4",
            f"{tagged.prompt_tokens + tagged.completion_tokens:,}",
            dollars(tagged.cost),
        ],
    ]
    assert sorted(row[0] for row in top(page, "Top keys")) == ["plain key", "research key"]
    assert top(page, "Top models")[0][0] == "demo"
    text = page.text()
    assert "b secret project" not in text and "b-centre" not in text
    assert ("Overview", "/admin/t/a/") in [
        (a.text, a["href"]) for a in page.html.select("nav.side a")
    ]

    # The backdated request counts in the week, not in the last day.
    week = await viewer.get("/admin/t/a/?period=7d")
    assert week.html.select_one("nav.periods a[aria-current]").text == "Last 7 days"
    assert stats(week)["Requests"] == f"{want.requests + 1:,}"
    assert stats(week)["Spend"] == dollars(want.cost + 100)
    assert len(week.html.select("figure.chart:first-of-type rect.bar")) == 7
    assert chart_total(week, "Requests") == want.requests + 1
    month = await viewer.get("/admin/t/a/?period=30d")
    assert stats(month)["Requests"] == f"{want.requests + 1:,}"
    assert (await viewer.get("/admin/t/a/?period=1y")).status == 400

    platform = await (await console("platform")).get("/admin/overview")
    assert platform.status == 200
    both = expected([*a_rows, *b_rows])
    assert stats(platform)["Requests"] == f"{both.requests:,}"
    assert stats(platform)["Spend"] == dollars(both.cost)
    assert stats(platform)["Latency p95"] == f"{both.p95:,.0f} ms"
    assert "b secret project" in [row[0] for row in top(platform, "Top keys")]


async def test_who_may_open_the_overviews_and_where_home_leads(
    world: World, console: ConsoleFactory, pool: asyncpg.Pool
) -> None:
    for who in ("owner", "admin", "member", "viewer", "platform"):
        client = await console(who)
        page = await client.get("/admin/t/a/")
        assert page.status == 200 and stats(page)["Requests"] == "0", who
        home = await client.get("/admin/")
        assert home.url.endswith("/admin/overview" if who == "platform" else "/admin/t/a/"), who
        assert (await client.get("/admin/overview")).status == (200 if who == "platform" else 403)
    owner_b = await console("owner-b")
    refused = await owner_b.get("/admin/t/a/")
    assert refused.status == 404 and "Tenant A" not in refused.text()
    # A member of two tenants chooses between them.
    await manage_users.put_membership(
        pool, SETUP, "a", uuid.UUID(world.ids["user-owner-b"]), "viewer"
    )
    chooser = await owner_b.get("/admin/")
    assert chooser.url.endswith("/admin/")
    assert [a.text for a in chooser.html.select("ul.cards a")] == ["a", "b"]
    assert (await owner_b.get("/admin/t/a/")).status == 200
