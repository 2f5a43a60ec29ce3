"""PostgreSQL for tests: one server per session, a fresh throwaway database per test.

`PG_URL` points the tests at an existing server (CI with a PostgreSQL service); otherwise an
embedded one starts in the session's temporary folder and stops when the session ends. Each
test gets its own database, so tests never see each other's rows and may run in any order.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.store.database import resolve_dsn


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("PG_URL")
    if url:
        return url
    return resolve_dsn(None, tmp_path_factory.mktemp("pg"))


@pytest.fixture
async def pg_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A DSN for an empty database that exists for this test only."""
    # Identifiers cannot be $n parameters; this one is ours and made only of hex digits.
    name = f"mb_test_{secrets.token_hex(8)}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute("CREATE DATABASE " + name)
        yield with_database(pg_server_dsn, name)
    finally:
        # FORCE ends any connection the test left open, so a leak cannot block the drop.
        await admin.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
        await admin.close()


def with_database(dsn: str, name: str) -> str:
    """`dsn` with its database replaced; host, port, user and query (a socket dir) kept."""
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this test's database, migrated, as the gateway itself would leave it."""
    from gateway.store.database import create_pool
    from gateway.store.migrations import migrate

    pool = await create_pool(pg_dsn)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()
