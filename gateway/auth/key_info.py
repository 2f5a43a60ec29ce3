"""What the request path knows about a virtual key: everything, from memory, in one object."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class TenantLimits:
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget_usd: Decimal | None
    budget_period: str | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    name: str
    tenant_id: str
    tenant_slug: str
    tenant_active: bool
    plan: str
    user_id: str | None
    # None: every model the tenant may use; otherwise the key's list within the tenant's.
    allowed_models: frozenset[str] | None
    expires_at: float | None
    revoked: bool
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget_usd: Decimal | None
    budget_period: str | None
    tags: dict[str, str]
    pinned_tags: dict[str, str]
    tenant_limits: TenantLimits

    def usable(self) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > time.time())

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models

    @classmethod
    def from_row(cls, row: Any) -> KeyInfo:
        return cls(
            key_id=str(row["id"]),
            name=row["name"],
            tenant_id=str(row["tenant_id"]),
            tenant_slug=row["tenant_slug"],
            tenant_active=row["tenant_status"] == "active",
            plan=row["tenant_plan"],
            user_id=str(row["user_id"]) if row["user_id"] else None,
            allowed_models=_intersect(row["allowed_models"], row["tenant_allowed_models"]),
            expires_at=row["expires_at"].timestamp() if row["expires_at"] else None,
            revoked=row["revoked_at"] is not None,
            rpm=row["rpm"],
            tpm=row["tpm"],
            max_parallel=row["max_parallel"],
            budget_usd=row["budget_usd"],
            budget_period=row["budget_period"],
            tags=dict(row["tags"] or {}),
            pinned_tags=dict(row["pinned_tags"] or {}),
            tenant_limits=TenantLimits(
                rpm=row["tenant_rpm"],
                tpm=row["tenant_tpm"],
                max_parallel=row["tenant_max_parallel"],
                budget_usd=row["tenant_budget_usd"],
                budget_period=row["tenant_budget_period"],
            ),
        )


def _intersect(key: list[str] | None, tenant: list[str] | None) -> frozenset[str] | None:
    if key is None and tenant is None:
        return None
    if key is None or tenant is None:
        return frozenset(key if key is not None else tenant or ())
    return frozenset(key) & frozenset(tenant)
