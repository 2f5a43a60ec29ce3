"""Admin console sessions, found by the SHA-256 of the token in the cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from gateway.store import queries

_Q = queries.load("admin_sessions")


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_id: UUID
    method: str
    second_factor_pending: bool


async def create(
    db: Any,
    token_hash: bytes,
    user_id: UUID,
    method: str,
    second_factor_pending: bool,
    lifetime_minutes: int,
) -> None:
    await db.execute(
        _Q["create"], token_hash, user_id, method, second_factor_pending, lifetime_minutes
    )


async def touch(db: Any, token_hash: bytes, idle_minutes: int) -> SessionRow | None:
    row = await db.fetchrow(_Q["touch"], token_hash, idle_minutes)
    return SessionRow(row["user_id"], row["method"], row["second_factor_pending"]) if row else None


async def complete_second_factor(db: Any, token_hash: bytes) -> None:
    await db.execute(_Q["complete_second_factor"], token_hash)


async def delete(db: Any, token_hash: bytes) -> None:
    await db.execute(_Q["delete"], token_hash)


async def delete_for_user(db: Any, user_id: UUID) -> None:
    await db.execute(_Q["delete_for_user"], user_id)


async def delete_expired(db: Any, idle_minutes: int) -> None:
    await db.execute(_Q["delete_expired"], idle_minutes)


async def set_flash(db: Any, token_hash: bytes, sealed: str) -> None:
    await db.execute(_Q["set_flash"], token_hash, sealed)


async def take_flash(db: Any, token_hash: bytes) -> str | None:
    sealed: str | None = await db.fetchval(_Q["take_flash"], token_hash)
    return sealed
