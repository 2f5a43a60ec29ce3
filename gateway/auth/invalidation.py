"""Telling every gateway process that a key changed, within a second.

Writers publish on a PostgreSQL channel inside the transaction that changed the key, so the
notice goes out exactly when the change commits. Each process keeps one listening connection
and drops what it hears from its cache. A listener that lost its connection may have missed
notices, so on every (re)connect it clears the whole cache: correctness over hit rate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import asyncpg

from gateway.auth.key_cache import KeyCache
from gateway.auth.key_info import KeyInfo

logger = logging.getLogger(__name__)

CHANNEL = "model_bridge_keys"
_TENANT = "tenant:"
_NOTIFY = "SELECT pg_notify($1, $2)"


async def key_changed(db: Any, key_hashes: Iterable[bytes]) -> None:
    for key_hash in key_hashes:
        await db.execute(_NOTIFY, CHANNEL, key_hash.hex())


async def tenant_changed(db: Any, tenant_id: object) -> None:
    await db.execute(_NOTIFY, CHANNEL, f"{_TENANT}{tenant_id}")


def apply(cache: KeyCache[KeyInfo], payload: str) -> None:
    if payload.startswith(_TENANT):
        tenant_id = payload.removeprefix(_TENANT)
        cache.invalidate_where(lambda info: info.tenant_id == tenant_id)
    else:
        cache.invalidate(bytes.fromhex(payload))


async def listen(dsn: str, cache: KeyCache[KeyInfo], ready: asyncio.Event) -> None:
    """Runs until cancelled, reconnecting with backoff."""
    delay = 0.2
    while True:
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning(
                "key invalidation listener cannot connect (%s); retrying", type(exc).__name__
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        try:
            await _serve(connection, cache, ready)
        finally:
            await connection.close()
        delay = 0.2
        logger.warning("key invalidation listener lost its connection; reconnecting")


async def _serve(
    connection: asyncpg.Connection, cache: KeyCache[KeyInfo], ready: asyncio.Event
) -> None:
    """Listens on one connection until it is lost."""
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _connection: lost.set())
    await connection.add_listener(CHANNEL, lambda *args: apply(cache, args[-1]))
    cache.clear()
    ready.set()
    await lost.wait()
