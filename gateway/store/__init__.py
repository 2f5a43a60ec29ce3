"""PostgreSQL: the connection pool, the schema migrations and the repositories.

The database is the source of truth for tenants, users, keys, usage and the audit log, and is
never consulted on the request path except on a key-cache miss.
"""
