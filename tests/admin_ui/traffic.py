"""Real traffic for the usage pages: the two-tenant world in front of a priced, cached demo
model, keys made through gateway.management, requests sent with the `openai` SDK, and the
numbers the pages must show, worked out from the raw `usage` rows."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import openai

from gateway.demo import demo_routing
from gateway.management import keys as manage_keys
from gateway.metering.record import UsageRecord
from gateway.store import usage
from gateway.store.keys import KeySettings
from tests.admin_api.world import SETUP, World, build_world
from tests.conftest import GatewayFactory

# Dollars per million tokens, high enough that a handful of requests costs whole dollars.
PRICE = {"input": "100000", "output": "200000"}


async def priced_world(start_gateway: GatewayFactory, pg_dsn: str) -> World:
    routing = demo_routing().model_dump(mode="json")
    demo = routing["models"]["demo"]
    demo["deployments"][0]["price"] = PRICE
    demo["cache"] = {"enabled": True}
    return await build_world(await start_gateway(routing), pg_dsn)


async def new_key(pool: asyncpg.Pool, slug: str, name: str, **settings: Any) -> str:
    created = await manage_keys.create(pool, SETUP, slug, KeySettings(name=name, **settings))
    return created.secret


async def chat(world: World, secret: str, prompts: list[str], failures: int = 0) -> None:
    """One request a prompt (repeats are cache hits), and `failures` refused upstream."""
    client = openai.AsyncOpenAI(base_url=world.root + "/v1", api_key=secret, max_retries=0)
    async with client:
        for prompt in prompts:
            await client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": prompt}]
            )
        for _ in range(failures):
            try:
                await client.chat.completions.create(
                    model="demo-embed", messages=[{"role": "user", "content": "x"}]
                )
            except openai.APIStatusError:
                continue
            raise AssertionError("demo-embed answered a chat request")


async def settled(pool: asyncpg.Pool, tenant_id: str, count: int) -> list[asyncpg.Record]:
    """The tenant's usage rows once the writer has stored `count` of them."""
    for _ in range(200):
        rows = await pool.fetch("SELECT * FROM usage WHERE tenant_id = $1", uuid.UUID(tenant_id))
        if len(rows) >= count:
            assert len(rows) == count
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(rows)} of {count} usage rows arrived")


async def backdated(pool: asyncpg.Pool, tenant_id: str, days: float, **fields: Any) -> None:
    """A request from `days` ago, stored the way the usage writer stores every record."""
    record = UsageRecord(
        request_id=f"old-{uuid.uuid4()}",
        at=(datetime.now(UTC) - timedelta(days=days)).timestamp(),
        tenant_id=tenant_id,
        model="demo",
        provider="demo",
        deployment="demo",
        latency_ms=10.0,
        status=200,
        **fields,
    )
    assert await usage.write_batch(pool, [record]) == 1


@dataclass(frozen=True)
class Expected:
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    errors: int
    cache_hits: int
    p50: float
    p95: float


def expected(rows: list[Any]) -> Expected:
    latencies = sorted(float(row["latency_ms"]) for row in rows)
    return Expected(
        requests=len(rows),
        prompt_tokens=sum(row["prompt_tokens"] for row in rows),
        completion_tokens=sum(row["completion_tokens"] for row in rows),
        cost=sum((row["cost_usd"] for row in rows), Decimal(0)),
        errors=sum(1 for row in rows if row["status"] >= 400),
        cache_hits=sum(1 for row in rows if row["cache_hit"]),
        p50=_percentile(latencies, 0.5),
        p95=_percentile(latencies, 0.95),
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def dollars(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def number(text: str) -> Decimal:
    """A figure as a page shows it ("1,234", "$5.20") as a number."""
    return Decimal(text.replace("$", "").replace(",", ""))
