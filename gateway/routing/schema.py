"""The shape of `routing.yaml`: providers, model groups, aliases and the router's defaults.

Typed and frozen like the rest of the config; cross-references (providers, fallbacks,
aliases, splits) are checked in `references`, so a loaded file can never send a request to
a name that does not exist.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.adapters import ADAPTERS

Strategy = Literal["weighted", "least-busy", "lowest-latency", "lowest-cost", "usage-based"]
POLICY_ALIASES = ("fastest", "cheapest", "best", "balanced")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's token
_LINE_BREAK = re.compile(r"[\r\n\0]")


class ProviderConfig(_Frozen):
    adapter: str
    api_base: str | None = Field(None, pattern=r"^https?://[^/?#\s]+")
    api_key: SecretStr | None = None
    api_version: str | None = None
    headers: dict[str, str] = {}

    # These go into request headers, where a line break would end the header early (a secret
    # read from a file often ends with one). Said at load time, not as a failed request.
    @field_validator("api_key")
    @classmethod
    def _one_line_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and _LINE_BREAK.search(key.get_secret_value()):
            raise ValueError("contains a line break (a secret file's trailing newline?)")
        return key

    @field_validator("headers")
    @classmethod
    def _header_fields(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if _LINE_BREAK.search(value):
                raise ValueError(f"the value of {name} contains a line break")
        return headers


class Price(_Frozen):
    """USD per one million tokens."""

    input: Decimal = Field(Decimal(0), ge=0)
    output: Decimal = Field(Decimal(0), ge=0)
    cached_input: Decimal | None = Field(None, ge=0)


class DeploymentConfig(_Frozen):
    provider: str
    model: str
    weight: float = Field(1.0, gt=0)
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    tags: dict[str, str] = {}
    price: Price = Price()
    context_window: int | None = Field(None, gt=0)
    max_output_tokens: int | None = Field(None, gt=0)
    quality: float | None = Field(None, ge=0)


class CachePolicy(_Frozen):
    enabled: bool = False
    ttl_seconds: float = Field(300.0, gt=0)
    # Only deterministic requests (temperature 0 or absent, n 1) are served from cache.
    deterministic_only: bool = True


class Split(_Frozen):
    """A/B: send `share` of this model's traffic to another model group."""

    model: str
    share: float = Field(gt=0, lt=1)


class ModelConfig(_Frozen):
    deployments: list[DeploymentConfig] = Field(min_length=1)
    # Which endpoints it serves; the built-in aliases choose only among models of the mode
    # the request needs.
    mode: Literal["chat", "embedding"] = "chat"
    owned_by: str | None = None
    description: str | None = None
    strategy: Strategy = "weighted"
    retries: int = Field(1, ge=0, le=10)
    timeout_seconds: float | None = Field(None, gt=0)
    fallbacks: list[str] = []
    context_window_fallbacks: list[str] = []
    cache: CachePolicy | None = None
    split: Split | None = None


class BreakerConfig(_Frozen):
    consecutive_failures: int = Field(5, ge=1)
    error_rate: float = Field(0.5, gt=0, le=1)
    window_seconds: float = Field(30.0, gt=0)
    min_requests: int = Field(10, ge=1)
    cooldown_seconds: float = Field(30.0, gt=0)


class RouterConfig(_Frozen):
    deadline_seconds: float = Field(120.0, gt=0)
    backoff_base_seconds: float = Field(0.2, ge=0)
    backoff_max_seconds: float = Field(4.0, ge=0)
    retry_after_cap_seconds: float = Field(10.0, ge=0)
    breaker: BreakerConfig = BreakerConfig()
    cache: CachePolicy = CachePolicy()


class RoutingConfig(_Frozen):
    providers: dict[str, ProviderConfig]
    models: dict[str, ModelConfig]
    aliases: dict[str, str] = {}
    router: RouterConfig = RouterConfig()
    # Data residency: a tenant (by slug) only ever reaches deployments carrying these tags.
    tenant_tags: dict[str, dict[str, str]] = {}


def references(config: RoutingConfig) -> list[str]:
    """Every dangling name, as `dotted.path: problem`."""
    problems = []
    for name, provider in config.providers.items():
        if provider.adapter not in ADAPTERS:
            known = ", ".join(sorted(ADAPTERS))
            problems.append(
                f"providers.{name}.adapter: unknown adapter {provider.adapter!r} "
                f"(expected one of: {known})"
            )
        elif ADAPTERS[provider.adapter].needs_api_base and not provider.api_base:
            problems.append(f"providers.{name}.api_base: required for adapter {provider.adapter}")
    models = config.models
    for model_name, model in models.items():
        where = f"models.{model_name}"
        for i, deployment in enumerate(model.deployments):
            if deployment.provider not in config.providers:
                problems.append(
                    f"{where}.deployments.{i}.provider: unknown provider {deployment.provider!r}"
                )
        for field in ("fallbacks", "context_window_fallbacks"):
            for i, target in enumerate(getattr(model, field)):
                if target not in models or target == model_name:
                    problems.append(f"{where}.{field}.{i}: unknown or self model {target!r}")
        if model.split and (model.split.model not in models or model.split.model == model_name):
            problems.append(f"{where}.split.model: unknown or self model {model.split.model!r}")
    for alias, target in config.aliases.items():
        if alias in models or alias in POLICY_ALIASES:
            problems.append(f"aliases.{alias}: shadows a model or built-in alias")
        elif target not in models:
            problems.append(f"aliases.{alias}: unknown model {target!r}")
    return problems
