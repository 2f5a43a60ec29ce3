"""The JSON admin API under `/admin/api/`: tenants, users, memberships, keys, audit log."""
