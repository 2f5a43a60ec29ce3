"""Usage rows: written in idempotent batches (COPY into a staging table, then merge), read
as reports from the hourly rollups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


async def latency_percentiles(
    db: Any, tenant_id: UUID | None, since: datetime, until: datetime
) -> tuple[float | None, float | None]:
    """p50 and p95 latency in milliseconds; None when nothing was requested."""
    if tenant_id is None:
        row = await db.fetchrow(_Q["latency_percentiles_everywhere"], since, until)
    else:
        row = await db.fetchrow(_Q["latency_percentiles_in_tenant"], tenant_id, since, until)
    return row["p50_ms"], row["p95_ms"]


async def key_names(db: Any, tenant_id: UUID | None, key_ids: Iterable[UUID]) -> dict[str, str]:
    """Key id (as a report's bucket spells it) -> name, for the keys the tenant owns."""
    rows = await db.fetch(_Q["key_names"], tenant_id, list(key_ids))
    return {str(row["id"]): row["name"] for row in rows}


async def member_emails(
    db: Any, tenant_id: UUID | None, user_ids: Iterable[UUID]
) -> dict[str, str]:
    """User id (as a report's bucket spells it) -> email, for the tenant's members."""
    rows = await db.fetch(_Q["member_emails"], tenant_id, list(user_ids))
    return {str(row["id"]): row["email"] for row in rows}
