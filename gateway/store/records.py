"""The rows the repositories return: frozen, typed, and without secrets."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

R = TypeVar("R")


def from_row(kind: type[R], row: Any) -> R:
    """Builds `kind` from the record's columns of the same names; extra columns are ignored."""
    return kind(**{f.name: row[f.name] for f in fields(kind)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    status: str
    plan: str
    allowed_models: list[str] | None
    # Defaults for all the tenant's keys together; None: the plan's, or no limit.
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget_usd: Decimal | None
    budget_period: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    email: str
    is_platform_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    id: UUID
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as an administrator sees it: never the secret, never the hash."""

    id: UUID
    tenant_id: UUID
    user_id: UUID | None
    name: str
    prefix: str
    allowed_models: list[str] | None
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget_usd: Decimal | None
    budget_period: str | None
    tags: dict[str, str]
    pinned_tags: dict[str, str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    tenant_id: UUID | None
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    source_ip: Any
    action: str
    target_type: str | None
    target_id: str | None
    changes: dict[str, Any]
