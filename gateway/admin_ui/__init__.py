"""The admin console at /admin: server-rendered pages over the same management functions,
access rules and audit log as the JSON admin API."""
