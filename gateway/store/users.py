"""Users and their memberships in tenants."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from gateway.store import queries
from gateway.store.records import Member, User, from_row

_Q = queries.load("users")


async def create(
    db: Any, email: str, password_hash: str | None, is_platform_admin: bool = False
) -> User:
    row = await db.fetchrow(_Q["create"], email, password_hash, is_platform_admin)
    return from_row(User, row)


async def get(db: Any, user_id: UUID) -> User | None:
    row = await db.fetchrow(_Q["get"], user_id)
    return from_row(User, row) if row else None


async def get_by_email(db: Any, email: str) -> tuple[User, str | None] | None:
    """The user and their password hash, for sign-in; None if there is no such user."""
    row = await db.fetchrow(_Q["get_by_email"], email)
    return (from_row(User, row), row["password_hash"]) if row else None


async def list_all(db: Any, limit: int, offset: int) -> list[User]:
    return [from_row(User, r) for r in await db.fetch(_Q["list"], limit, offset)]


async def emails_of(db: Any, user_ids: list[UUID]) -> dict[UUID, str]:
    """Addresses by id, for naming who made what (such as a tenant's keys) in one query."""
    return {r["id"]: r["email"] for r in await db.fetch(_Q["emails_of"], user_ids)}


async def list_in_tenant(db: Any, tenant_id: UUID, limit: int, offset: int) -> list[Member]:
    rows = await db.fetch(_Q["list_in_tenant"], tenant_id, limit, offset)
    return [from_row(Member, r) for r in rows]


async def put_membership(db: Any, tenant_id: UUID, user_id: UUID, role: str) -> bool:
    """Adds or changes a membership; True when it was added."""
    return bool(await db.fetchval(_Q["put_membership"], tenant_id, user_id, role))


async def remove_membership(db: Any, tenant_id: UUID, user_id: UUID) -> str | None:
    """The role the user had, or None if they were not a member."""
    role: str | None = await db.fetchval(_Q["remove_membership"], tenant_id, user_id)
    return role


async def role_in(db: Any, tenant_id: UUID, user_id: UUID) -> str | None:
    role: str | None = await db.fetchval(_Q["role_in"], tenant_id, user_id)
    return role


async def memberships_of(db: Any, user_id: UUID) -> list[tuple[UUID, str, str]]:
    rows = await db.fetch(_Q["memberships_of"], user_id)
    return [(r["tenant_id"], r["slug"], r["role"]) for r in rows]


async def totp_secret(db: Any, user_id: UUID) -> str | None:
    secret: str | None = await db.fetchval(_Q["totp_secret"], user_id)
    return secret


async def set_totp_secret(db: Any, user_id: UUID, secret: str | None) -> None:
    await db.execute(_Q["set_totp_secret"], user_id, secret)


async def use_totp_step(db: Any, user_id: UUID, step: int) -> bool:
    """Marks the time step used; False when it (or a later one) was used already."""
    return await db.fetchval(_Q["use_totp_step"], user_id, step) is not None
