"""The request path reads a key from the database once; after that, from memory only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.appkeys import KEY_CACHE, KEY_USE
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.demo import demo_routing
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import MASTER_KEY, TOKEN_SECRET

BODY = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def served(pg_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[web.Application, str]]:
    config = GatewayConfig.model_validate({"server": {"data_dir": str(tmp_path)}})
    app = create_app(config, demo_routing(), Credentials(MASTER_KEY, TOKEN_SECRET), pg_dsn)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield app, str(server.make_url("/v1/chat/completions"))
    await server.close()


async def statuses(url: str, keys: list[str]) -> list[int]:
    async with aiohttp.ClientSession() as session:
        result = []
        for key in keys:
            async with session.post(
                url, json=BODY, headers={"Authorization": f"Bearer {key}"}
            ) as response:
                result.append(response.status)
        return result


async def test_a_warm_key_costs_no_database_read(
    served: tuple[web.Application, str], pool: asyncpg.Pool
) -> None:
    app, url = served
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, "acme", "Acme", plan="enterprise")
    key = await manage_keys.create(pool, actor, "acme", KeySettings(name="k"))
    assert await statuses(url, [key.secret] * 50) == [200] * 50
    assert app[KEY_CACHE].loads == 1


async def test_a_flood_of_bad_keys_barely_touches_the_database(
    served: tuple[web.Application, str],
) -> None:
    app, url = served
    unknown = "sk-mb-" + "x" * 43
    assert await statuses(url, [unknown] * 100) == [401] * 100
    assert app[KEY_CACHE].loads == 1  # negatively cached
    junk = [f"not-a-key-{i}" for i in range(100)]
    assert await statuses(url, junk) == [401] * 100
    assert app[KEY_CACHE].loads == 1  # malformed keys never reach the cache or database


async def test_last_use_is_written_in_a_batch_off_the_request_path(
    served: tuple[web.Application, str], pool: asyncpg.Pool
) -> None:
    app, url = served
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, "acme", "Acme", plan="enterprise")
    key = await manage_keys.create(pool, actor, "acme", KeySettings(name="k"))
    assert await statuses(url, [key.secret] * 3) == [200] * 3
    assert await pool.fetchval("SELECT last_used_at FROM api_keys") is None  # not inline
    await app[KEY_USE].flush()  # what the background task does every few seconds
    assert await pool.fetchval("SELECT last_used_at FROM api_keys") is not None
