"""API keys. Every query on a tenant's keys names the tenant; only the auth view and the
platform-wide prefix search (CLI, platform admins) look across tenants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from gateway.store import queries
from gateway.store.records import ApiKey, from_row

_Q = queries.load("keys")


@dataclass(frozen=True, slots=True)
class KeySettings:
    """What whoever creates a key chooses about it."""

    name: str
    user_id: UUID | None = None
    allowed_models: list[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget_usd: Decimal | None = None
    budget_period: str | None = None
    tags: dict[str, str] | None = None
    expires_at: datetime | None = None
    pinned_tags: dict[str, str] | None = None  # data residency: only deployments with these


async def create(
    db: Any, tenant_id: UUID, key_hash: bytes, prefix: str, key: KeySettings
) -> ApiKey:
    row = await db.fetchrow(
        _Q["create"],
        tenant_id,
        key.user_id,
        key.name,
        key_hash,
        prefix,
        key.allowed_models,
        key.rpm,
        key.tpm,
        key.max_parallel,
        key.budget_usd,
        key.budget_period,
        key.tags or {},
        key.expires_at,
        key.pinned_tags or {},
    )
    return from_row(ApiKey, row)


async def auth_view(db: Any, key_hash: bytes) -> Any:
    """The row the request path needs, joined with its tenant; None for an unknown key."""
    return await db.fetchrow(_Q["auth_view"], key_hash)


async def list_in_tenant(db: Any, tenant_id: UUID, limit: int, offset: int) -> list[ApiKey]:
    rows = await db.fetch(_Q["list_in_tenant"], tenant_id, limit, offset)
    return [from_row(ApiKey, r) for r in rows]


async def get_in_tenant(db: Any, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
    row = await db.fetchrow(_Q["get_in_tenant"], tenant_id, key_id)
    return from_row(ApiKey, row) if row else None


async def find_by_prefix(db: Any, prefix: str) -> list[ApiKey]:
    return [from_row(ApiKey, r) for r in await db.fetch(_Q["find_by_prefix"], prefix)]


async def revoke_in_tenant(db: Any, tenant_id: UUID, key_id: UUID) -> tuple[ApiKey, bytes] | None:
    """The revoked key and its hash (to invalidate caches); None if absent or already revoked."""
    row = await db.fetchrow(_Q["revoke_in_tenant"], tenant_id, key_id)
    return (from_row(ApiKey, row), bytes(row["key_hash"])) if row else None


async def hashes_in_tenant(db: Any, tenant_id: UUID) -> list[bytes]:
    return [bytes(r["key_hash"]) for r in await db.fetch(_Q["hashes_in_tenant"], tenant_id)]


async def touch(db: Any, used: dict[UUID, datetime]) -> None:
    """Records last use for many keys in one statement (called in batches, off the hot path)."""
    if used:
        await db.execute(_Q["touch"], list(used), list(used.values()))


async def find_by_id(db: Any, key_id: UUID) -> ApiKey | None:
    row = await db.fetchrow(_Q["find_by_id"], key_id)
    return from_row(ApiKey, row) if row else None
