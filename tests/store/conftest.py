"""The store tests run against a real PostgreSQL: a fresh database per test."""

from tests.pg import pg_dsn, pg_server_dsn  # noqa: F401
