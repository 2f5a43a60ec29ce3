"""The audit log: append-only. There is no update or delete here, by design."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.store import queries
from gateway.store.records import AuditEntry, from_row

_Q = queries.load("audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a user, a key, the master key, the system, or nobody yet (failed login)."""

    type: str
    id: str | None = None
    label: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    tenant_id: UUID | None = None
    actor: str | None = None
    action: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def record(
    db: Any,
    actor: Actor,
    action: str,
    *,
    tenant_id: UUID | None = None,
    target_type: str | None = None,
    target_id: object = None,
    changes: dict[str, Any] | None = None,
) -> None:
    await db.execute(
        _Q["record"],
        tenant_id,
        actor.type,
        actor.id,
        actor.label,
        actor.ip,
        action,
        target_type,
        None if target_id is None else str(target_id),
        changes or {},
    )


async def list_entries(db: Any, where: AuditFilter, limit: int, offset: int) -> list[AuditEntry]:
    rows = await db.fetch(
        _Q["list"],
        where.tenant_id,
        where.actor,
        where.action,
        where.target_id,
        where.since,
        where.until,
        limit,
        offset,
    )
    return [from_row(AuditEntry, r) for r in rows]
