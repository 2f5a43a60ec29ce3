"""Who an identity provider's sign-in lets in, and with which role.

A tenant's identity provider speaks for that tenant's people only. It signs in an account
that belongs to this tenant and no other, never a platform administrator: the session it
opens is the account's, with every membership the account has, so letting tenant B's
provider sign in someone of tenant A would hand A's data to whoever runs B's provider.

Accounts are matched by email address, which the provider must have verified and which must
be in one of the tenant's allowed domains. Someone unknown to the tenant is created (or, an
account that belongs to no tenant yet, added) with the mapped or default role when
just-in-time provisioning is on, and refused otherwise. With a group mapping the provider
decides roles: at every sign-in the member gets the highest role their groups map to, or the
default role when none match; an owner stays an owner unless the mapping itself grants the
owner role. Every creation and role change is written to the audit log.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from gateway.errors import GatewayError
from gateway.management import users as manage_users
from gateway.roles import Role
from gateway.sso.identity import Identity
from gateway.sso.refusal import SignInRefused
from gateway.store import users
from gateway.store.audit import Actor
from gateway.store.records import Tenant, User
from gateway.store.sso import SsoConfig

_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def mapped_role(config: SsoConfig, groups: tuple[str, ...]) -> Role | None:
    """The highest role any of the groups maps to; None when none is mapped."""
    roles = [Role(config.group_roles[g]) for g in groups if g in config.group_roles]
    return max(roles, key=_RANK.__getitem__, default=None)


def grants_owner(config: SsoConfig) -> bool:
    return config.default_role == Role.OWNER or Role.OWNER in config.group_roles.values()


async def admit(
    pool: Any, tenant: Tenant, config: SsoConfig, identity: Identity, method: str, ip: str | None
) -> User:
    """The user the identity signs in as, provisioned and given the role the settings say;
    SignInRefused when the settings do not let them in."""
    email = identity.email.strip()
    if identity.domain not in config.allowed_domains:
        raise SignInRefused(
            "domain_not_allowed",
            f"Addresses at {identity.domain} may not sign in to {tenant.slug} with single sign-on.",
            email=email,
        )
    found = await users.get_by_email(pool, email)
    user = found[0] if found else None
    memberships = await users.memberships_of(pool, user.id) if user else []
    _check_account(user, memberships, tenant.id, email)
    current = next((role for tid, _, role in memberships if tid == tenant.id), None)
    actor = Actor(type="system", label=f"{method} sign-in of {email}", ip=ip)
    wanted = _wanted_role(config, identity, current)
    if current is None and not config.jit:
        raise SignInRefused(
            "not_provisioned",
            f"There is no account for {email} in {tenant.slug}, and it does not create "
            f"accounts on first sign-in. Ask an administrator of {tenant.slug} to add you.",
            email=email,
        )
    if user is None:  # only when provisioning: a member has an account
        user = await _create(pool, actor, email)
    if wanted != current:
        await manage_users.put_membership(pool, actor, tenant.slug, user.id, wanted)
    return user


def _check_account(
    user: User | None, memberships: list[tuple[UUID, str, str]], tenant_id: UUID, email: str
) -> None:
    if user is not None and user.is_platform_admin:
        raise SignInRefused(
            "platform_admin",
            "Platform administrators sign in with their password, not a tenant's SSO.",
            email=email,
        )
    if any(tid != tenant_id for tid, _, _ in memberships):
        raise SignInRefused(
            "other_tenant",
            f"{email} also belongs to another tenant, so this tenant's identity provider "
            "cannot sign it in. Sign in with your password instead.",
            email=email,
        )


def _wanted_role(config: SsoConfig, identity: Identity, current: str | None) -> str:
    mapped = mapped_role(config, identity.groups)
    if current is None:
        return mapped or config.default_role
    if not config.group_roles:
        return current  # no mapping: roles are managed in the console
    wanted = mapped or Role(config.default_role)
    if current == Role.OWNER and not grants_owner(config):
        return current
    return wanted.value


async def _create(pool: Any, actor: Actor, email: str) -> User:
    """A new account without a password; a concurrent first sign-in may have made it."""
    try:
        return await manage_users.create(pool, actor, email, None)
    except GatewayError as exc:
        found = await users.get_by_email(pool, email)
        if found is None:
            raise SignInRefused("account_invalid", exc.message, email=email) from exc
        return found[0]
