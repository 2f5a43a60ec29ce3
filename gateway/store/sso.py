"""Each tenant's single sign-on settings, and the SAML requests waiting for their answer.

Settings are read and written by tenant id. The client secret arrives and leaves only as
ciphertext (`gateway.sso.client_secret` encrypts it), and never in `SsoSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.store import queries
from gateway.store.records import from_row

_Q = queries.load("sso")


@dataclass(frozen=True, slots=True)
class SsoConfig:
    """What an administrator sets, apart from the client secret."""

    enabled: bool = False
    protocol: str = "oidc"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    saml_idp_entity_id: str | None = None
    saml_sso_url: str | None = None
    saml_x509_cert: str | None = None
    allowed_domains: list[str] = field(default_factory=list)
    default_role: str = "member"
    group_roles: dict[str, str] = field(default_factory=dict)
    groups_claim: str = "groups"
    jit: bool = False


@dataclass(frozen=True, slots=True)
class SsoSettings:
    tenant_id: UUID
    config: SsoConfig
    has_client_secret: bool
    updated_at: datetime | None  # None: never saved


async def get(db: Any, tenant_id: UUID) -> SsoSettings:
    """The tenant's settings; SSO switched off when it has never been set up."""
    row = await db.fetchrow(_Q["get"], tenant_id)
    if row is None:
        return SsoSettings(tenant_id, SsoConfig(), False, None)
    return SsoSettings(
        tenant_id, from_row(SsoConfig, row), row["has_client_secret"], row["updated_at"]
    )


async def client_secret(db: Any, tenant_id: UUID) -> bytes | None:
    """The client secret's ciphertext."""
    value: bytes | None = await db.fetchval(_Q["client_secret"], tenant_id)
    return value


async def put(db: Any, tenant_id: UUID, config: SsoConfig, secret: bytes | None) -> None:
    """Saves the settings; `secret` None keeps the client secret already stored."""
    await db.execute(
        _Q["put"],
        tenant_id,
        config.enabled,
        config.protocol,
        config.oidc_issuer,
        config.oidc_client_id,
        secret,
        config.saml_idp_entity_id,
        config.saml_sso_url,
        config.saml_x509_cert,
        config.allowed_domains,
        config.default_role,
        config.group_roles,
        config.groups_claim,
        config.jit,
    )


async def tenants_for_domain(db: Any, domain: str) -> list[str]:
    """Slugs of the tenants whose enabled SSO accepts addresses of `domain`."""
    return [r["slug"] for r in await db.fetch(_Q["tenants_for_domain"], domain.lower())]


async def saml_request_create(db: Any, request_id: str, tenant_id: UUID, minutes: int) -> None:
    await db.execute(_Q["delete_expired_saml_requests"])
    await db.execute(_Q["saml_request_create"], request_id, tenant_id, minutes)


async def saml_request_tenant(db: Any, request_id: str) -> UUID | None:
    """The tenant of a request still waiting for its answer."""
    tenant_id: UUID | None = await db.fetchval(_Q["saml_request_tenant"], request_id)
    return tenant_id


async def saml_request_answer(
    db: Any, request_id: str, tenant_id: UUID, identity: dict[str, Any]
) -> bool:
    """Stores the verified answer; False when the request was answered already or expired."""
    return await db.fetchval(_Q["saml_request_answer"], request_id, tenant_id, identity) is not None


async def saml_request_take(db: Any, request_id: str) -> tuple[UUID, dict[str, Any]] | None:
    """The answered request's tenant and identity, removed so it can be taken only once."""
    row = await db.fetchrow(_Q["saml_request_take"], request_id)
    return (row["tenant_id"], row["identity"]) if row else None
