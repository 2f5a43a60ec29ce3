"""Named SQL queries, loaded from the `.sql` files beside this module.

Each query starts with a `-- name: <identifier>` line (the aiosql convention). Values are
always `$n` parameters; nothing is ever formatted into SQL text.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_SQL_DIR = Path(__file__).parent / "sql"
_NAME = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@cache
def load(module: str) -> dict[str, str]:
    """`load("keys")["revoke"]`: the queries of `sql/keys.sql` by name, read once."""
    text = (_SQL_DIR / f"{module}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    if not queries:
        raise ValueError(f"no named queries in {module}.sql")
    return queries
