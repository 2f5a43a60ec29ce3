"""Fixtures for console tests: the demo gateway, the admin API's two-tenant world, and
signed-in consoles for any of its people."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.demo import demo_routing
from tests.admin_api.world import World, build_world
from tests.admin_ui.console import Console
from tests.conftest import GatewayFactory

EMAILS = {
    "owner": "owner@a.example",
    "admin": "admin@a.example",
    "member": "member@a.example",
    "viewer": "viewer@a.example",
    "owner-b": "owner@b.example",
    "platform": "root@platform.example",
}

ConsoleFactory = Callable[[str | None], Awaitable[Console]]


@pytest.fixture
async def world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    # SSO tests' identity provider (tests/fakes/oidc_idp.py) listens on 127.0.0.1.
    base_url = await start_gateway(
        demo_routing().model_dump(mode="json"), admin={"sso_private_networks": True}
    )
    return await build_world(base_url, pg_dsn)


@pytest.fixture
async def console(world: World) -> AsyncIterator[ConsoleFactory]:
    """`await console("admin")`: a console signed in as that person; None: signed out."""
    opened: list[Console] = []

    async def open_as(who: str | None) -> Console:
        client = Console(world.root)
        opened.append(client)
        if who is not None:
            page = await client.sign_in(EMAILS[who])
            assert page.status == 200 and "/admin/login" not in page.url, page.text()
        return client

    yield open_as
    for client in opened:
        await client.close()
