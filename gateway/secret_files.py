"""Secrets that come from the environment, else from a file in the data folder that the
first start generates (mode 0600). Used for the master key and the admin token secret."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path


def load_or_create(
    env: Mapping[str, str], env_var: str, path: Path, prefix: str = ""
) -> tuple[str, bool]:
    """The secret, and whether it was generated just now (so the caller can show it once)."""
    if env.get(env_var):
        return env[env_var], False
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    value = prefix + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated it first: use theirs
        return path.read_text(encoding="utf-8").strip(), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value, True
