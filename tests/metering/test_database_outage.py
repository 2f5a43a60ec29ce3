"""PostgreSQL unavailable mid-run: requests still succeed (the hot path never waits on it),
records wait in the journal and queue, and all arrive once it is back, none twice."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from tests.conftest import MASTER_KEY, GatewayFactory
from tests.limits.test_rate_limits import ROUTING


async def test_records_written_once_after_the_database_returns(
    start_gateway: GatewayFactory, pg_dsn: str, pg_server_dsn: str
) -> None:
    name = urlsplit(pg_dsn).path.lstrip("/")
    base = await start_gateway(ROUTING)
    admin = await asyncpg.connect(pg_server_dsn)
    ids: list[str] = []
    try:
        # Identifiers cannot be parameters; this name is the fixture's own hex name.
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        async with aiohttp.ClientSession() as session:
            for i in range(20):
                async with session.post(
                    base + "/chat/completions",
                    json={"model": "demo", "messages": [{"role": "user", "content": str(i)}]},
                    headers={"Authorization": f"Bearer {MASTER_KEY}"},
                ) as response:
                    assert response.status == 200
                    ids.append(response.headers["x-request-id"])
        await asyncio.sleep(1.0)  # the writer fails and retries meanwhile
    finally:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        await admin.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        for _ in range(150):
            stored = await conn.fetchval(
                "SELECT count(*) FROM usage WHERE request_id = ANY($1)", ids
            )
            if stored == len(ids):
                break
            await asyncio.sleep(0.1)
        assert stored == len(ids)
        assert await conn.fetchval("SELECT sum(requests) FROM usage_hourly") == len(ids)
    finally:
        await conn.close()
