"""Forward-only schema migrations: `migrations/NNNN_title.sql`, applied in version order.

The contract (dbmate and golang-migrate, with procrastinate's checksums):

- Each file runs with its `schema_migrations` row in one transaction, so a failed file leaves
  neither tables nor a row behind. Files therefore hold no `BEGIN`/`COMMIT` and nothing that
  refuses a transaction (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE ... ADD VALUE` before 12).
- The whole run holds a session-level advisory lock, so processes starting together (several
  workers, several hosts) serialize: the first applies, the others find nothing to do.
- Applied files are immutable. An edited, renamed or deleted applied file, or a new file
  numbered below the newest applied one, is an error before anything runs: the fix is a new
  migration, never a changed old one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parents[2] / "migrations"

# ASCII "mb_migra": any fixed bigint works, as long as nothing else takes the same one.
_LOCK_KEY = 0x6D625F6D69677261
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_LOCK = "SELECT pg_advisory_lock($1)"
_UNLOCK = "SELECT pg_advisory_unlock($1)"
_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
_RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


class MigrationError(Exception):
    """The migrations folder and the database disagree, or a migration failed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def discover(directory: Path) -> list[Migration]:
    """The migrations in `directory`, by version; files not ending in `.sql` are ignored.

    A `.sql` file with a malformed name is an error rather than skipped: a typo would
    otherwise silently never run.
    """
    if not directory.is_dir():
        raise MigrationError(f"migrations folder not found: {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix.lower() != ".sql":
            continue
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: migration file names must look like 0001_lowercase_title.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path.name}: version {version:04d} is also used by {found[version].name}"
            )
        data = path.read_bytes()
        found[version] = Migration(
            version=version,
            name=path.name,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [found[v] for v in sorted(found)]


async def migrate(
    db: asyncpg.Connection | asyncpg.Pool, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Applies the pending migrations and returns their file names (empty when up to date)."""
    migrations = discover(directory)
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            return await _migrate_locked(conn, migrations, directory)
    return await _migrate_locked(db, migrations, directory)


async def _migrate_locked(
    conn: asyncpg.Connection, migrations: list[Migration], directory: Path
) -> list[str]:
    await conn.execute(_LOCK, _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        applied = {r["version"]: (r["name"], r["checksum"]) for r in await conn.fetch(_APPLIED)}
        pending = _pending(migrations, applied, directory)
        for migration in pending:
            await _apply(conn, migration)
        return [m.name for m in pending]
    finally:
        if not conn.is_closed():
            await conn.execute(_UNLOCK, _LOCK_KEY)


def _pending(
    migrations: list[Migration], applied: dict[int, tuple[str, str]], directory: Path
) -> list[Migration]:
    """The migrations still to run, after checking the applied ones are untouched."""
    on_disk = {m.version: m for m in migrations}
    for version, (name, checksum) in applied.items():
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(f"{name} was applied but is missing from {directory}")
        if migration.name != name:
            raise MigrationError(f"{name} was applied but is now named {migration.name}")
        if migration.checksum != checksum:
            raise MigrationError(
                f"{name} was edited after it was applied (checksum {checksum[:12]}…, file "
                f"{migration.checksum[:12]}…); put the change in a new migration"
            )
    newest = max(applied, default=0)
    pending = [m for m in migrations if m.version not in applied]
    for migration in pending:
        if migration.version < newest:
            raise MigrationError(
                f"{migration.name} is numbered below the newest applied migration "
                f"{applied[newest][0]}; renumber it after that one"
            )
    return pending


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(_RECORD, migration.version, migration.name, migration.checksum)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{migration.name} failed and was rolled back: {exc}") from exc
    logger.info("applied migration %s", migration.name)
