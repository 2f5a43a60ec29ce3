"""Tenants: the organisations that own keys, members and usage."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from gateway.store import queries
from gateway.store.records import Tenant, from_row

_Q = queries.load("tenants")


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """What a platform administrator chooses about a tenant (in the `update` query's order)."""

    name: str
    plan: str
    allowed_models: list[str] | None = None
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    budget_usd: Decimal | None = None
    budget_period: str | None = None


async def create(
    db: Any, slug: str, name: str, plan: str = "free", allowed_models: list[str] | None = None
) -> Tenant:
    return from_row(Tenant, await db.fetchrow(_Q["create"], slug, name, plan, allowed_models))


async def get(db: Any, tenant_id: UUID) -> Tenant | None:
    row = await db.fetchrow(_Q["get"], tenant_id)
    return from_row(Tenant, row) if row else None


async def get_by_slug(db: Any, slug: str) -> Tenant | None:
    row = await db.fetchrow(_Q["get_by_slug"], slug)
    return from_row(Tenant, row) if row else None


async def list_all(db: Any, limit: int, offset: int) -> list[Tenant]:
    return [from_row(Tenant, r) for r in await db.fetch(_Q["list"], limit, offset)]


async def list_for_user(db: Any, user_id: UUID, limit: int, offset: int) -> list[Tenant]:
    rows = await db.fetch(_Q["list_for_user"], user_id, limit, offset)
    return [from_row(Tenant, r) for r in rows]


async def set_status(db: Any, tenant_id: UUID, status: str) -> Tenant | None:
    row = await db.fetchrow(_Q["set_status"], tenant_id, status)
    return from_row(Tenant, row) if row else None


async def update(db: Any, tenant_id: UUID, settings: TenantSettings) -> Tenant | None:
    row = await db.fetchrow(_Q["update"], tenant_id, *astuple(settings))
    return from_row(Tenant, row) if row else None
