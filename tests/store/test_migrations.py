from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.store.database import APPLICATION_NAME, create_pool
from gateway.store.migrations import MIGRATIONS_DIR, MigrationError, migrate

pytestmark = pytest.mark.pg

FIRST = "0001_tenants_users_keys_audit.sql"
TABLES = ["tenants", "users", "memberships", "api_keys", "audit_log", "schema_migrations"]


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(pg_dsn)
    yield connection
    await connection.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the first real migration, free to edit; tests add later ones."""
    target = tmp_path / "migrations"
    target.mkdir()
    shutil.copy(MIGRATIONS_DIR / FIRST, target / FIRST)
    return target


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)  # type: ignore[no-any-return]


async def recorded(conn: asyncpg.Connection) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY 1")]


async def test_empty_database_gets_every_migration(conn: asyncpg.Connection) -> None:
    names = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert FIRST in names

    assert await migrate(conn) == names

    assert [name for name in TABLES if not await table_exists(conn, name)] == []
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations ORDER BY 1")
    assert [(r["version"], r["name"]) for r in rows] == [(int(n[:4]), n) for n in names]
    first = (MIGRATIONS_DIR / FIRST).read_bytes()
    assert rows[0]["checksum"] == hashlib.sha256(first).hexdigest()


async def test_rerun_is_a_no_op(conn: asyncpg.Connection) -> None:
    assert await migrate(conn) != []
    before = await conn.fetch("SELECT * FROM schema_migrations ORDER BY version")

    assert await migrate(conn) == []
    assert await conn.fetch("SELECT * FROM schema_migrations ORDER BY version") == before


async def test_only_new_files_are_applied(conn: asyncpg.Connection, folder: Path) -> None:
    await migrate(conn, folder)
    (folder / "0002_add_notes.sql").write_text("CREATE TABLE notes (id int);\n")

    assert await migrate(conn, folder) == ["0002_add_notes.sql"]
    assert await table_exists(conn, "notes")


async def test_an_edited_applied_file_is_refused(conn: asyncpg.Connection, folder: Path) -> None:
    await migrate(conn, folder)
    (folder / "0002_later.sql").write_text("CREATE TABLE later (id int);\n")
    with (folder / FIRST).open("a") as f:
        f.write("\nCREATE TABLE sneaky (id int);\n")

    with pytest.raises(MigrationError, match=f"{FIRST} was edited after it was applied"):
        await migrate(conn, folder)
    assert not await table_exists(conn, "sneaky")
    assert not await table_exists(conn, "later"), "nothing may run once a check fails"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: (d / FIRST).unlink(), f"{FIRST} was applied but is missing"),
        (
            lambda d: (d / FIRST).rename(d / "0001_renamed.sql"),
            f"{FIRST} was applied but is now named 0001_renamed.sql",
        ),
    ],
    ids=["deleted", "renamed"],
)
async def test_an_applied_file_must_stay(
    conn: asyncpg.Connection, folder: Path, change: object, message: str
) -> None:
    await migrate(conn, folder)
    change(folder)  # type: ignore[operator]

    with pytest.raises(MigrationError, match=message):
        await migrate(conn, folder)


async def test_a_file_numbered_below_the_newest_applied_is_refused(
    conn: asyncpg.Connection, folder: Path
) -> None:
    (folder / "0003_c.sql").write_text("SELECT 1;\n")
    await migrate(conn, folder)
    (folder / "0002_b.sql").write_text("CREATE TABLE b (id int);\n")

    with pytest.raises(MigrationError, match=r"0002_b\.sql is numbered below .* 0003_c\.sql"):
        await migrate(conn, folder)
    assert not await table_exists(conn, "b")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["1_short.sql"], "1_short.sql: migration file names must look like"),
        (["0002-dash.sql"], "0002-dash.sql: migration file names"),
        (["0002_Upper.sql"], "0002_Upper.sql: migration file names"),
        (["0002_.sql"], "0002_.sql: migration file names"),
        (["0002_shout.SQL"], "0002_shout.SQL: migration file names"),
        (["0002_a.sql", "0002_b.sql"], "0002_b.sql: version 0002 is also used by 0002_a.sql"),
    ],
    ids=["short-version", "dash", "uppercase", "no-title", "uppercase-suffix", "duplicate"],
)
async def test_bad_file_names_are_refused_before_anything_runs(
    conn: asyncpg.Connection, folder: Path, files: list[str], message: str
) -> None:
    for name in files:
        (folder / name).write_text("CREATE TABLE should_not_exist (id int);\n")

    with pytest.raises(MigrationError, match=message):
        await migrate(conn, folder)
    assert not await table_exists(conn, "schema_migrations")
    assert not await table_exists(conn, "tenants")


async def test_other_files_in_the_folder_are_ignored(
    conn: asyncpg.Connection, folder: Path
) -> None:
    (folder / "README.md").write_text("# notes\n")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "9999_draft.sql").write_text("CREATE TABLE draft (id int);\n")

    assert await migrate(conn, folder) == [FIRST]


async def test_a_missing_folder_is_an_error(conn: asyncpg.Connection, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="migrations folder not found"):
        await migrate(conn, tmp_path / "nowhere")


async def test_concurrent_runners_serialize(pg_dsn: str, folder: Path) -> None:
    # The slow file keeps the first runner busy long enough that, without the lock, the
    # others would read an empty schema_migrations and apply everything a second time.
    (folder / "0002_slow.sql").write_text("SELECT pg_sleep(0.3);\nCREATE TABLE slow (id int);\n")
    (folder / "0003_after.sql").write_text("CREATE TABLE after_slow (id int);\n")
    names = [FIRST, "0002_slow.sql", "0003_after.sql"]
    connections = [await asyncpg.connect(pg_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, folder) for c in connections))
        assert sorted(results, key=len) == [[], [], [], names]
        assert await recorded(connections[0]) == names
        locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        assert await connections[0].fetchval(locks) == 0, "the lock is released"
    finally:
        for c in connections:
            await c.close()


async def test_a_failing_migration_leaves_nothing_behind(
    conn: asyncpg.Connection, folder: Path
) -> None:
    broken = folder / "0002_broken.sql"
    broken.write_text("CREATE TABLE half_done (id int);\nCREATE TABLE oops (;\n")

    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed and was rolled back") as err:
        await migrate(conn, folder)
    assert isinstance(err.value.__cause__, asyncpg.PostgresSyntaxError)
    assert not await table_exists(conn, "half_done")
    assert await recorded(conn) == [FIRST], "earlier files stay applied"

    broken.write_text("CREATE TABLE half_done (id int);\n")
    assert await migrate(conn, folder) == ["0002_broken.sql"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'tenant.delete'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE false",
        "TRUNCATE audit_log",
    ],
    ids=["update", "delete", "delete-no-rows", "truncate"],
)
async def test_audit_log_is_append_only(conn: asyncpg.Connection, statement: str) -> None:
    await migrate(conn)
    await conn.execute(
        "INSERT INTO audit_log (actor_type, action, source_ip) "
        "VALUES ('system', 'tenant.create', $1)",
        "127.0.0.1",
    )

    with pytest.raises(asyncpg.RaiseError, match="audit_log is append-only"):
        await conn.execute(statement)
    assert await conn.fetchval("SELECT action FROM audit_log") == "tenant.create"


async def test_migrate_through_the_pool(pg_dsn: str) -> None:
    pool = await create_pool(pg_dsn, min_size=1, max_size=2)
    try:
        assert await migrate(pool) == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
        changes = {"name": ["old", "new"], "limits": {"rpm": 60}, "ok": True}
        async with pool.acquire() as c:
            await c.execute(
                "INSERT INTO audit_log (actor_type, action, changes) VALUES ('master', 'x.y', $1)",
                changes,
            )
        async with pool.acquire() as c:
            assert await c.fetchval("SELECT changes FROM audit_log") == changes
            assert await c.fetchval("SHOW application_name") == APPLICATION_NAME
    finally:
        await pool.close()
