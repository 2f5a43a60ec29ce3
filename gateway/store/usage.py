"""Usage rows: written in idempotent batches (COPY into a staging table, then merge), read
as reports from the hourly rollups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.metering.record import COLUMNS, UsageRecord
from gateway.store import queries

_Q = queries.load("usage")
DIMENSIONS = ("hour", "day", "model", "provider", "deployment", "key", "user", "variant", "tag")


async def write_batch(pool: Any, records: Sequence[UsageRecord]) -> int:
    """Writes the records not already present; returns how many were new."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_Q["create_staging"])
        await conn.copy_records_to_table(
            "usage_staging", records=[r.to_row() for r in records], columns=COLUMNS
        )
        inserted: int = await conn.fetchval(_Q["merge_staging"])
    return inserted


async def report(
    db: Any,
    tenant_id: UUID | None,
    since: datetime,
    until: datetime,
    group_by: str,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    rows = await db.fetch(_Q["report"], tenant_id, since, group_by, tag, until)
    return [dict(row) for row in rows]
