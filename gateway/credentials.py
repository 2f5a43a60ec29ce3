"""The gateway's own secrets: the master key and the admin token signing secret.

Each comes from its environment variable, else (the master key) `auth.master_key` in
gateway.yaml, else a file in the data folder that the first start generates (mode 0600).
A generated master key is shown once, by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import ConfigError, GatewayConfig
from gateway.secret_files import load_or_create

MIN_TOKEN_SECRET_BYTES = 32
MASTER_KEY_ENV = "MODEL_BRIDGE_MASTER_KEY"
TOKEN_SECRET_ENV = "MODEL_BRIDGE_ADMIN_TOKEN_SECRET"


@dataclass(frozen=True, slots=True)
class Credentials:
    master_key: str
    admin_token_secret: str

    def as_env(self) -> dict[str, str]:
        """For worker processes, so all of them share what the supervisor resolved."""
        return {MASTER_KEY_ENV: self.master_key, TOKEN_SECRET_ENV: self.admin_token_secret}


def resolve_credentials(config: GatewayConfig, env: Mapping[str, str]) -> tuple[Credentials, bool]:
    """The credentials, and whether the master key was generated just now."""
    data = config.server.data_dir
    if not env.get(MASTER_KEY_ENV) and config.auth.master_key is not None:
        master_key, generated = config.auth.master_key.get_secret_value(), False
    else:
        master_key, generated = load_or_create(
            env, MASTER_KEY_ENV, data / "master_key", "sk-mb-master-"
        )
    token_secret, _ = load_or_create(env, TOKEN_SECRET_ENV, data / "admin_token_secret")
    if len(token_secret.encode()) < MIN_TOKEN_SECRET_BYTES:
        raise ConfigError(
            [f"{TOKEN_SECRET_ENV}: must be at least {MIN_TOKEN_SECRET_BYTES} bytes (HS256)"]
        )
    return Credentials(master_key, token_secret), generated
