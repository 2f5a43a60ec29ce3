"""Changes to tenants, users, memberships and keys, shared by the CLI and the admin API.

Each operation validates, writes in one transaction together with its audit entry and, where
the request path caches what changed, the invalidation notice: all three commit, or none.
Who may call what is decided by the caller (`gateway.roles`); these functions only act.
"""
