"""What each tenant role may do: one table, enforced in one place (`require`).

Platform administrators (and the master key) may do everything, in every tenant. Everyone
else acts only inside tenants they are a member of, with the rights of their role there.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Action(StrEnum):
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    MEMBER_READ = "member.read"
    MEMBER_MANAGE = "member.manage"
    KEY_READ = "key.read"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    USAGE_READ = "usage.read"
    AUDIT_READ = "audit.read"
    SSO_MANAGE = "sso.manage"


_ALL = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})

# Shown in the README and the admin console; a test checks the README matches.
PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.TENANT_READ: _ALL,
    Action.TENANT_UPDATE: frozenset({Role.OWNER}),
    Action.MEMBER_READ: _ALL,
    Action.MEMBER_MANAGE: _MANAGERS,
    Action.KEY_READ: _ALL,
    Action.KEY_CREATE: frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    Action.KEY_REVOKE: _MANAGERS,
    Action.USAGE_READ: _ALL,
    Action.AUDIT_READ: _MANAGERS,
    Action.SSO_MANAGE: _MANAGERS,
}


def allows(role: Role | None, action: Action) -> bool:
    return role is not None and role in PERMISSIONS[action]
