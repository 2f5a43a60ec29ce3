"""The routing page: platform administrators see models, deployments and their health
without a provider key or upstream address, and reload the routing file from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from tests.admin_api.world import World, build_world
from tests.admin_ui.conftest import ConsoleFactory
from tests.admin_ui.console import Page
from tests.conftest import MASTER_KEY, GatewayFactory, routing_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.sdk_stack import PROVIDER_KEY, StartUpstream


@pytest.fixture
def upstream() -> FakeOpenAI:
    return FakeOpenAI(api_key=PROVIDER_KEY)


@pytest.fixture
async def routing_file(
    tmp_path: Path, start_upstream: StartUpstream, upstream: FakeOpenAI
) -> tuple[Path, dict[str, Any]]:
    routing = routing_for(await start_upstream(upstream.app()) + "/v1")
    routing["models"]["gpt-4o-mini"]["deployments"][0]["tags"] = {"region": "eu"}
    routing["models"]["gpt-4o-mini"]["deployments"][0]["weight"] = 3
    routing["aliases"] = {"fast": "gpt-4o-mini"}
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(routing))
    return path, routing


@pytest.fixture
async def world(
    start_gateway: GatewayFactory, pg_dsn: str, routing_file: tuple[Path, dict[str, Any]]
) -> World:
    """The console's two-tenant world, on a gateway that serves a routing file."""
    path, routing = routing_file
    return await build_world(await start_gateway(routing, routing_path=path), pg_dsn)


async def test_platform_admins_see_deployments_and_their_health_without_secrets(
    world: World,
    console: ConsoleFactory,
    upstream: FakeOpenAI,
    routing_file: tuple[Path, dict[str, Any]],
) -> None:
    upstream.enqueue(status=500)  # the first try fails, the retry succeeds
    async with openai.AsyncOpenAI(
        base_url=world.root + "/v1", api_key=MASTER_KEY, max_retries=0
    ) as client:
        await client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "hi"}]
        )
    root = await console("platform")
    page = await root.get("/admin/routing")
    assert page.status == 200, page.text()
    assert ("Routing", "/admin/routing") in _menu(page)

    row = _row(page, "gpt-4o-mini:up:gpt-4o-mini-upstream")
    assert row[:5] == ["up", "gpt-4o-mini-upstream", "3.0", "region=eu", "0.15 / 0.6"]
    breaker, in_flight, latency, errors = row[5:]
    assert (breaker, in_flight, errors) == ("closed", "0", "1 of 2")
    assert latency.endswith(" ms")
    assert _row(page, "demo:demo:demo")[5:] == ["closed", "0", "no data", "0 of 0"]
    aliases = [
        [td.get_text(strip=True) for td in tr("td")] for tr in page.html.select(".aliases tbody tr")
    ]
    assert aliases == [["fast", "gpt-4o-mini"]]
    assert "applied" in page.html.select_one("section.reload").get_text()

    html = str(page.html)
    assert PROVIDER_KEY not in html
    api_base = routing_file[1]["providers"]["up"]["api_base"]
    assert api_base.removeprefix("http://").removesuffix("/v1") not in html


async def test_every_tenant_role_is_refused(console: ConsoleFactory) -> None:
    for who in ("owner", "admin", "member", "viewer", "owner-b"):
        client = await console(who)
        home = await client.get("/admin/")
        assert "/admin/routing" not in [href for _, href in _menu(home)], who
        page = await client.get("/admin/routing")
        assert page.status == 403 and "only platform administrators" in page.text(), who
        reload = await client.post("/admin/routing/reload")
        assert reload.status == 403 and "Routing reloaded" not in reload.text(), who


async def test_reload_applies_a_good_file_and_shows_a_broken_ones_rejection(
    console: ConsoleFactory, routing_file: tuple[Path, dict[str, Any]]
) -> None:
    path, routing = routing_file
    root = await console("platform")
    page = await root.get("/admin/routing")

    routing["models"]["added"] = {"deployments": [{"provider": "demo", "model": "demo"}]}
    path.write_text(yaml.safe_dump(routing))
    applied = await root.submit(page, "/admin/routing/reload")
    assert applied.status == 200 and applied.url.endswith("/admin/routing")
    assert "Routing reloaded" in applied.html.select_one("[role=status]").get_text()
    assert _row(applied, "added:demo:demo")

    routing["models"]["broken"] = {"deployments": [{"provider": "nowhere", "model": "x"}]}
    path.write_text(yaml.safe_dump(routing))
    rejected = await root.submit(applied, "/admin/routing/reload")
    assert rejected.status == 200
    alert = rejected.html.select_one("[role=alert]").get_text()
    assert "rejected" in alert
    assert "models.broken.deployments.0.provider: unknown provider 'nowhere'" in alert
    last = rejected.html.select_one("section.reload").get_text()
    assert "rejected" in last and "unknown provider 'nowhere'" in last
    assert _row(rejected, "added:demo:demo"), "the previous routing stays"
    assert not rejected.html.select('[data-deployment^="broken:"]')

    again = await root.get("/admin/routing")
    assert again.html.select_one("[role=alert]") is None, "the result is shown once"


def _row(page: Page, deployment_id: str) -> list[str]:
    row = page.html.select_one(f'tr[data-deployment="{deployment_id}"]')
    assert row is not None, f"no row for {deployment_id}"
    return [" ".join(td.get_text(" ", strip=True).split()) for td in row("td")]


def _menu(page: Page) -> list[tuple[str, str]]:
    return [(a.get_text(strip=True), a["href"]) for a in page.html.select("nav.side a")]
