"""Creating and revoking virtual API keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from gateway import api_keys
from gateway.auth import invalidation
from gateway.errors import InvalidRequest, NotFound
from gateway.management.tenants import get as get_tenant
from gateway.store import audit
from gateway.store import keys as key_store
from gateway.store.audit import Actor
from gateway.store.keys import KeySettings
from gateway.store.records import ApiKey


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, to the creator, and never stored


async def create(pool: Any, actor: Actor, slug: str, settings: KeySettings) -> CreatedKey:
    tenant = await get_tenant(pool, slug)
    if not settings.name.strip():
        raise InvalidRequest("name must not be empty", param="name")
    if settings.budget_usd is not None and settings.budget_period is None:
        raise InvalidRequest("a budget needs a budget_period (day or month)", param="budget_period")
    secret = api_keys.generate()
    async with pool.acquire() as conn, conn.transaction():
        key = await key_store.create(
            conn, tenant.id, api_keys.hash_key(secret), api_keys.display_prefix(secret), settings
        )
        await audit.record(
            conn,
            actor,
            "key.create",
            tenant_id=tenant.id,
            target_type="api_key",
            target_id=key.id,
            changes=_describe(key),
        )
    return CreatedKey(key, secret)


async def revoke(pool: Any, actor: Actor, tenant_id: UUID, key_id: UUID) -> ApiKey:
    async with pool.acquire() as conn, conn.transaction():
        revoked = await key_store.revoke_in_tenant(conn, tenant_id, key_id)
        if revoked is None:
            raise NotFound("no such active key in this tenant", param="key")
        key, key_hash = revoked
        await audit.record(
            conn,
            actor,
            "key.revoke",
            tenant_id=tenant_id,
            target_type="api_key",
            target_id=key.id,
            changes={"name": key.name, "prefix": key.prefix},
        )
        await invalidation.key_changed(conn, [key_hash])
    return key


def _describe(key: ApiKey) -> dict[str, Any]:
    """What the audit log keeps of a new key: its settings, never its secret or hash."""
    return {
        "name": key.name,
        "prefix": key.prefix,
        "allowed_models": key.allowed_models,
        "rpm": key.rpm,
        "tpm": key.tpm,
        "max_parallel": key.max_parallel,
        "budget_usd": str(key.budget_usd) if key.budget_usd is not None else None,
        "budget_period": key.budget_period,
        "tags": key.tags,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "user_id": str(key.user_id) if key.user_id else None,
        "pinned_tags": key.pinned_tags,
    }
