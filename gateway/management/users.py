"""Users and memberships.

Only owners (and platform administrators) may make someone an owner or change or end an
owner's membership, so an admin can neither take a tenant over nor lock its owners out:
callers say whether the person acting has those `owner_rights`.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import asyncpg

from gateway.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from gateway.management.tenants import get as get_tenant
from gateway.passwords import MIN_LENGTH, hash_password
from gateway.roles import Role
from gateway.store import audit, users
from gateway.store.audit import Actor
from gateway.store.records import User

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


async def create(
    pool: Any, actor: Actor, email: str, password: str | None, is_platform_admin: bool = False
) -> User:
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise InvalidRequest("email is not a valid address", param="email")
    if password is not None and len(password) < MIN_LENGTH:
        raise InvalidRequest(f"password must be at least {MIN_LENGTH} characters", param="password")
    password_hash = await hash_password(password) if password else None
    async with pool.acquire() as conn, conn.transaction():
        try:
            user = await users.create(conn, email, password_hash, is_platform_admin)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"a user with email {email!r} already exists", param="email") from None
        await audit.record(
            conn,
            actor,
            "user.create",
            target_type="user",
            target_id=user.id,
            changes={"email": email, "is_platform_admin": is_platform_admin},
        )
    return user


async def get_by_email(pool: Any, email: str) -> User:
    found = await users.get_by_email(pool, email)
    if found is None:
        raise NotFound(f"no user {email!r}", param="email")
    return found[0]


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidRequest(f"role must be one of: {allowed}", param="role") from None


def check_owner_rule(owner_rights: bool, new: str | None, current: str | None) -> None:
    if not owner_rights and Role.OWNER in (new, current):
        raise PermissionDenied("only an owner may grant, change or remove the owner role")


async def add_member(
    pool: Any, actor: Actor, slug: str, email: str, role: str, *, owner_rights: bool
) -> tuple[User, Role]:
    """Adds the user with this address, inviting them (an account without a password: they
    sign in with SSO or are given one) when there is none. A member gets the new role."""
    check_owner_rule(owner_rights, parse_role(role), None)  # before inviting anyone
    found = await users.get_by_email(pool, email)
    user = found[0] if found else await create(pool, actor, email, None)
    return await put_membership(pool, actor, slug, user.id, role, owner_rights=owner_rights)


async def put_membership(
    pool: Any,
    actor: Actor,
    slug: str,
    user_id: UUID,
    role: str,
    *,
    owner_rights: bool = True,
    members_only: bool = False,
) -> tuple[User, Role]:
    """Gives the user `role` in the tenant; `members_only`: NotFound unless already a member."""
    tenant = await get_tenant(pool, slug)
    parsed = parse_role(role)
    user = await users.get(pool, user_id)
    if user is None:
        raise NotFound("no such user", param="user")
    async with pool.acquire() as conn, conn.transaction():
        previous = await users.role_in(conn, tenant.id, user.id)
        if previous is None and members_only:
            raise NotFound("that user is not a member of this tenant", param="user")
        check_owner_rule(owner_rights, parsed, previous)
        await users.put_membership(conn, tenant.id, user.id, parsed.value)
        await audit.record(
            conn,
            actor,
            "membership.create" if previous is None else "membership.update",
            tenant_id=tenant.id,
            target_type="user",
            target_id=user.id,
            changes={"email": user.email, "role": [previous, parsed.value]},
        )
    return user, parsed


async def remove_membership(
    pool: Any, actor: Actor, slug: str, user_id: UUID, *, owner_rights: bool = True
) -> None:
    tenant = await get_tenant(pool, slug)
    async with pool.acquire() as conn, conn.transaction():
        role = await users.remove_membership(conn, tenant.id, user_id)
        if role is None:
            raise NotFound("that user is not a member of this tenant", param="user")
        check_owner_rule(owner_rights, None, role)  # raising here undoes the removal
        await audit.record(
            conn,
            actor,
            "membership.delete",
            tenant_id=tenant.id,
            target_type="user",
            target_id=user_id,
            changes={"role": [role, None]},
        )
