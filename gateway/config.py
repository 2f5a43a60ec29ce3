"""Typed, validated configuration: `gateway.yaml` (the process) and `routing.yaml` (the models).

Both files load into frozen pydantic models that reject unknown keys. `${VAR}` and
`${VAR:-default}` in string values are replaced from the environment before validation, so
secrets never live in the files. Loading is pure: it returns a config or raises `ConfigError`
listing every problem as `file: dotted.path: what was expected`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    model_validator,
)

from gateway.routing.schema import RoutingConfig, references

_SECRET_KEYS = frozenset({"api_key", "master_key", "url", "client_secret"})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# A whole unquoted value `${VAR}`, e.g. inside a flow mapping `{api_key: ${VAR}}`, where YAML
# would read its braces as syntax. Such values are quoted before parsing.
_BARE_ENV_VALUE = re.compile(
    r"(?P<lead>(?:[:\-\[,])[ \t]+|\[)(?P<ref>\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\s,]*)?\})"
    r"(?=[ \t]*(?:[,}\]]|#|$))",
    re.MULTILINE,
)


class ConfigError(Exception):
    """Every problem found in one file, each as one line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- gateway.yaml -------------------------------------------------------------------------


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    grace_period_seconds: float = Field(30.0, gt=0)
    data_dir: Path = Path("data")


class TimeoutConfig(_Frozen):
    """Seconds. Streams have no total timeout, only first byte and silence between chunks."""

    connect: float = Field(10.0, gt=0)
    first_byte: float = Field(120.0, gt=0)
    between_chunks: float = Field(120.0, gt=0)
    request: float = Field(600.0, gt=0)


class UpstreamConfig(_Frozen):
    timeouts: TimeoutConfig = TimeoutConfig()
    max_connections_per_provider: int = Field(1000, ge=1)
    keepalive_seconds: float = Field(60.0, gt=0)
    trust_env_proxies: bool = False


class AuthConfig(_Frozen):
    master_key: SecretStr | None = None


class DatabaseConfig(_Frozen):
    """No URL: an embedded PostgreSQL with its data in `server.data_dir`."""

    url: SecretStr | None = None
    migrate_on_start: bool = True


class RedisConfig(_Frozen):
    url: SecretStr | None = None


class CacheConfig(_Frozen):
    """Where response cache entries live; what is cached is routing.yaml's business."""

    backend: Literal["memory", "redis"] = "memory"
    max_bytes: int = Field(64 * 1024 * 1024, ge=0)  # memory backend


class LimitsConfig(_Frozen):
    backend: Literal["memory", "redis"] = "memory"  # redis: shared by every process
    redis_failure: Literal["open", "closed"] = "open"  # fall back per process, or refuse
    default_max_tokens: int = Field(1024, ge=1)  # output assumed when a request sets none


class PlanConfig(_Frozen):
    """A tenant's defaults. Limits left out are unlimited; keys may set tighter ones."""

    monthly_requests: int | None = Field(None, ge=0)
    monthly_tokens: int | None = Field(None, ge=0)
    rpm: int | None = Field(None, ge=0)
    tpm: int | None = Field(None, ge=0)
    max_parallel: int | None = Field(None, ge=0)


DEFAULT_PLANS = {
    "free": PlanConfig(monthly_requests=1_000, monthly_tokens=50_000),
    "starter": PlanConfig(monthly_requests=10_000, monthly_tokens=500_000),
    "professional": PlanConfig(monthly_requests=50_000, monthly_tokens=2_500_000),
    "enterprise": PlanConfig(monthly_requests=200_000, monthly_tokens=10_000_000),
}


class LoggingConfig(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    access_log: bool = True


class AdminConsoleConfig(_Frozen):
    """The console at /admin: how long a sign-in lasts, and how its cookies are sent."""

    session_minutes: int = Field(12 * 60, ge=5)  # absolute lifetime of a sign-in
    idle_minutes: int = Field(60, ge=1)  # ended earlier when unused this long
    # None: `Secure` when the request came over TLS (directly or, behind a proxy, as it
    # says in X-Forwarded-Proto); true/false force it.
    secure_cookies: bool | None = None
    # Tenants' SSO identity providers may be on loopback or private addresses (an IdP on
    # your own network). Off: a tenant admin cannot aim the console at internal services.
    sso_private_networks: bool = False
    # Where browsers and identity providers reach the console (https://gateway.example.com,
    # with a path prefix if a proxy adds one). Single sign-on's addresses are built from it:
    # the OIDC redirect, the SAML entity id and assertion consumer. None: from each
    # request's Host header, which the client chooses; fine on one's own machine only.
    public_url: HttpUrl | None = None


class GatewayConfig(_Frozen):
    server: ServerConfig = ServerConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    auth: AuthConfig = AuthConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    cache: CacheConfig = CacheConfig()
    limits: LimitsConfig = LimitsConfig()
    plans: dict[str, PlanConfig] = DEFAULT_PLANS
    logging: LoggingConfig = LoggingConfig()
    admin: AdminConsoleConfig = AdminConsoleConfig()

    @model_validator(mode="after")
    def _redis_when_needed(self) -> GatewayConfig:
        if self.redis.url is None and "redis" in (self.limits.backend, self.cache.backend):
            raise ValueError("limits/cache backend 'redis' needs redis.url")
        return self


# --- loading ------------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def load_gateway_config(path: Path | None) -> GatewayConfig:
    """`None` means built-in defaults: `make run` works with no file at all."""
    if path is None:
        return GatewayConfig()
    return _load(path, GatewayConfig)


def load_routing_config(path: Path) -> RoutingConfig:
    config = _load(path, RoutingConfig)
    problems = [f"{path}: {p}" for p in references(config)]
    if problems:
        raise ConfigError(problems)
    return config


def with_server_overrides(config: GatewayConfig, overrides: dict[str, Any]) -> GatewayConfig:
    """Command-line flags and environment variables win over the file, validated the same."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    try:
        server = ServerConfig.model_validate({**config.server.model_dump(), **given})
    except ValidationError as exc:
        raise ConfigError([f"server override: {p}" for p in _describe(exc)]) from None
    return config.model_copy(update={"server": server})


def _load(path: Path, model: type[_M]) -> _M:
    try:
        text = _BARE_ENV_VALUE.sub(r'\g<lead>"\g<ref>"', path.read_text(encoding="utf-8"))
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read file: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    missing: list[str] = []
    data = _interpolate(raw, (), os.environ, missing)
    problems = [f"{path}: {p}" for p in missing]
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        problems += [f"{path}: {p}" for p in _describe(exc)]
    if problems:
        raise ConfigError(problems)
    return config


def _interpolate(
    value: Any, where: tuple[str, ...], env: Mapping[str, str], missing: list[str]
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*where, str(k)), env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*where, str(i)), env, missing) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(f"{'.'.join(where)}: environment variable {name} is not set")
        return ""

    resolved = _ENV_REF.sub(substitute, value)
    # An optional secret left empty (`${X:-}`) means "not configured", not "empty string".
    return None if resolved == "" and where and where[-1] in _SECRET_KEYS else resolved


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
            continue
        message = error["msg"]
        shown = error.get("input")
        if error["loc"] and error["loc"][-1] not in _SECRET_KEYS and _is_scalar(shown):
            message += f" (got {shown!r})"
        lines.append(f"{loc}: {message}")
    return lines


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and len(str(value)) <= 80
