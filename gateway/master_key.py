"""The master key: the platform administrator's bootstrap credential.

From `MODEL_BRIDGE_MASTER_KEY`, else `auth.master_key` in gateway.yaml, else a key generated
on first start into the data folder (mode 0600) and shown once by the caller.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from gateway.config import GatewayConfig

ENV_VAR = "MODEL_BRIDGE_MASTER_KEY"
FILE_NAME = "master_key"


def resolve_master_key(config: GatewayConfig, env: dict[str, str]) -> tuple[str, bool]:
    """Returns the key and whether it was generated just now (so it must be shown)."""
    if env.get(ENV_VAR):
        return env[ENV_VAR], False
    if config.auth.master_key is not None:
        return config.auth.master_key.get_secret_value(), False
    path = config.server.data_dir / FILE_NAME
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    key = "sk-mb-master-" + secrets.token_urlsafe(32)
    _write_private(path, key)
    return key, True


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
