"""Exactly one usage record per client request, priced exactly, and none lost or doubled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import openai
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.management import keys as manage_keys
from gateway.management import tenants as manage_tenants
from gateway.metering.journal import Journal
from gateway.metering.record import UsageRecord
from gateway.metering.writer import UsageWriter
from gateway.metrics import Metrics
from gateway.routing.schema import RoutingConfig
from gateway.store import usage
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from tests.conftest import MASTER_KEY, TOKEN_SECRET, GatewayFactory
from tests.metering.records import FULL_RECORD

ROUTING: dict[str, Any] = {
    "providers": {"demo": {"adapter": "demo"}},
    "models": {
        "demo": {
            "cache": {"enabled": True},
            "deployments": [
                {"provider": "demo", "model": "demo", "price": {"input": "1.5", "output": "6"}}
            ],
        },
    },
}


async def wait_for_rows(pool: asyncpg.Pool, count: int) -> list[asyncpg.Record]:
    for _ in range(100):
        rows = await pool.fetch("SELECT * FROM usage ORDER BY at")
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    return await pool.fetch("SELECT * FROM usage ORDER BY at")


async def test_one_record_per_request_of_every_kind(
    start_gateway: GatewayFactory, pool: asyncpg.Pool
) -> None:
    actor = Actor(type="system", label="test")
    await manage_tenants.create(pool, actor, "acme", "Acme")
    key = await manage_keys.create(
        pool, actor, "acme", KeySettings(name="k", tags={"cost_center": "research"})
    )
    base_url = await start_gateway(ROUTING)
    messages = [{"role": "user", "content": "count me"}]
    async with openai.AsyncOpenAI(base_url=base_url, api_key=key.secret, max_retries=0) as sdk:
        whole = await sdk.chat.completions.create(model="demo", messages=messages)
        cached = await sdk.chat.completions.create(model="demo", messages=messages)
        stream = await sdk.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "stream"}], stream=True
        )
        async for _ in stream:
            pass
        with pytest.raises(openai.NotFoundError):
            await sdk.chat.completions.create(model="nope", messages=messages)
    rows = await wait_for_rows(pool, 4)
    assert len(rows) == 4
    first, hit, streamed, missing = rows
    assert first["tenant_id"] is not None and str(first["key_id"]) == str(key.key.id)
    assert first["tags"] == {"cost_center": "research"}
    assert (first["prompt_tokens"], first["completion_tokens"]) == (
        whole.usage.prompt_tokens,
        whole.usage.completion_tokens,
    )
    expected = (
        Decimal(first["prompt_tokens"]) * Decimal("1.5") + Decimal(first["completion_tokens"]) * 6
    ) / 1_000_000
    assert first["cost_usd"] == expected and first["token_source"] == "provider"
    assert first["deployment"] == "demo:demo:demo" and first["attempts"] == 1
    assert hit["cache_hit"] is True and hit["cost_usd"] == 0
    assert cached.choices[0].message.content == whole.choices[0].message.content
    assert streamed["completion_tokens"] > 0 and streamed["status"] == 200
    assert missing["status"] == 404 and missing["deployment"] is None
    rollup = await pool.fetchrow("SELECT sum(requests) AS r, sum(errors) AS e FROM usage_hourly")
    assert (rollup["r"], rollup["e"]) == (4, 1)


async def test_writing_a_batch_twice_counts_it_once(pool: asyncpg.Pool) -> None:
    batch = [
        UsageRecord(
            request_id=f"req_{i}",
            at=1_700_000_000.0 + i,
            prompt_tokens=10,
            cost_usd=Decimal("0.000015"),
            status=200,
        )
        for i in range(3)
    ]
    assert await usage.write_batch(pool, batch) == 3
    assert await usage.write_batch(pool, batch) == 0
    totals = await pool.fetchrow(
        "SELECT sum(requests) AS requests, sum(prompt_tokens) AS tokens, sum(cost_usd) AS cost "
        "FROM usage_hourly"
    )
    assert (totals["requests"], totals["tokens"], totals["cost"]) == (3, 30, Decimal("0.000045"))


async def test_a_written_row_holds_every_field_of_its_record(pool: asyncpg.Pool) -> None:
    record = FULL_RECORD
    assert await usage.write_batch(pool, [record]) == 1
    row = dict(await pool.fetchrow("SELECT * FROM usage WHERE request_id = $1", record.request_id))
    assert row.pop("at") == datetime.fromtimestamp(record.at, UTC)
    assert (str(row.pop("tenant_id")), str(row.pop("key_id"))) == (record.tenant_id, record.key_id)
    assert row.pop("cost_usd") == record.cost_usd.quantize(Decimal("1e-10"))  # numeric(20, 10)
    expected = {c: getattr(record, c) for c in row}
    assert row == expected


async def test_records_wait_in_the_journal_while_the_database_is_down(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    available = False

    def current_pool() -> Any:
        if not available:
            raise OSError("database unreachable")
        return pool

    writer = UsageWriter(current_pool, tmp_path / "journal", Metrics())
    task = asyncio.create_task(writer.run())
    for i in range(5):
        writer.submit(UsageRecord(request_id=f"down_{i}", at=1_700_000_000.0, status=200))
    await asyncio.sleep(0.5)
    assert await pool.fetchval("SELECT count(*) FROM usage") == 0
    available = True
    for _ in range(100):
        if await pool.fetchval("SELECT count(*) FROM usage") == 5:
            break
        await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()
    assert await pool.fetchval("SELECT count(*) FROM usage") == 5


async def test_a_dead_processs_journal_is_replayed_once(pool: asyncpg.Pool, tmp_path: Path) -> None:
    directory = tmp_path / "journal"
    dead = Journal(directory)  # stands for a process killed with -9: never retired
    for i in range(3):
        dead.write(UsageRecord(request_id=f"orphan_{i}", at=1_700_000_000.0, status=200))
    dead.close()  # its lock goes with it, as with a dead process
    await usage.write_batch(
        pool, [UsageRecord(request_id="orphan_0", at=1_700_000_000.0, status=200)]
    )  # one was written before it died
    writer = UsageWriter(lambda: pool, directory, Metrics())
    task = asyncio.create_task(writer.run())
    for _ in range(50):
        if await pool.fetchval("SELECT count(*) FROM usage") == 3:
            break
        await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.close()
    assert await pool.fetchval("SELECT count(*) FROM usage") == 3
    assert await pool.fetchval("SELECT sum(requests) FROM usage_hourly") == 3
    assert list(directory.glob("*.jsonl")) == [] or all(
        p.stat().st_size == 0 for p in directory.glob("*.jsonl")
    )


async def test_shutdown_flushes_every_record(
    pool: asyncpg.Pool, pg_dsn: str, tmp_path: Path
) -> None:
    """Closing the app right after the last response (well inside the writer's flush
    interval) still leaves every record in the database."""
    config = GatewayConfig.model_validate({"server": {"data_dir": str(tmp_path / "d")}})
    app = create_app(
        config, RoutingConfig.model_validate(ROUTING), Credentials(MASTER_KEY, TOKEN_SECRET), pg_dsn
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> None:
                async with session.post(
                    str(server.make_url("/v1/chat/completions")),
                    json={"model": "demo", "messages": [{"role": "user", "content": str(i)}]},
                    headers={"Authorization": f"Bearer {MASTER_KEY}"},
                ) as response:
                    assert response.status == 200

            await asyncio.gather(*(one(i) for i in range(50)))
    finally:
        await server.close()
    assert await pool.fetchval("SELECT count(*) FROM usage") == 50
