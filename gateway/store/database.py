"""Which PostgreSQL server to use, and the connection pool every repository borrows from.

No database URL means the embedded server (pgserver, PostgreSQL 16) with its data under the
data directory, so `make run` needs nothing installed. Every process that asks for the same
folder attaches to the one server; the last of them to exit stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import orjson

logger = logging.getLogger(__name__)

APPLICATION_NAME = "model-bridge"


def resolve_dsn(url: str | None, data_dir: Path) -> str:
    """The configured URL, or the URI of the embedded server for `data_dir / "postgres"`.

    Blocking (it may run initdb and start the server, under a second when the data exists):
    call it once at start-up, before the event loop runs or in a thread.
    """
    if url:
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Importing pgserver asks platformdirs for a runtime directory, which warns where
        # XDG_RUNTIME_DIR is unset (containers, CI); the /tmp fallback it takes is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

    server = pgserver.get_server(data_dir / "postgres")  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    logger.info("embedded PostgreSQL with data in %s", data_dir / "postgres")
    return uri


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections read and write json/jsonb as Python objects via orjson.

    `application_name` is a startup parameter rather than a `SET` in `init`: the pool runs
    `RESET ALL` whenever a connection is released, which would undo a `SET`.
    """
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"application_name": APPLICATION_NAME},
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary codecs: COPY (the usage writer) speaks only the binary format.
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


_JSONB_VERSION = b"\x01"  # jsonb's binary form: a version byte, then the JSON text


def _encode_jsonb(value: Any) -> bytes:
    return _JSONB_VERSION + orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])
