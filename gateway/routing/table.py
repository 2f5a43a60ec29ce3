"""The routing table: an immutable snapshot of `routing.yaml` with everything precomputed.

Built once per load, never mutated, so a request keeps the snapshot it started with while a
reload builds the next one beside it. Deployment ids are stable across reloads (model,
provider, upstream model), so health and breaker state carry over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.adapters import ADAPTERS
from gateway.adapters.base import Adapter, Target
from gateway.errors import ModelNotFound
from gateway.routing.schema import (
    CachePolicy,
    DeploymentConfig,
    ModelConfig,
    Price,
    ProviderConfig,
    RoutingConfig,
)


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    public_model: str
    provider: str
    adapter: Adapter
    target: Target
    weight: float
    price: Price
    tags: Mapping[str, str]
    rpm: int | None
    tpm: int | None
    context_window: int | None
    quality: float | None

    def matches(self, pins: Mapping[str, str]) -> bool:
        return all(self.tags.get(k) == v for k, v in pins.items())


@dataclass(frozen=True, slots=True)
class ModelGroup:
    name: str
    mode: str
    deployments: tuple[Deployment, ...]
    owned_by: str
    created: int
    config: ModelConfig

    @property
    def cache(self) -> CachePolicy | None:
        return self.config.cache


class RoutingTable:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.loaded_at = int(time.time())
        self.groups: Mapping[str, ModelGroup] = {
            name: self._group(name, model) for name, model in config.models.items()
        }
        # Plans derived from this table, memoised by the planner (bounded by the distinct
        # model x allowed-models x tenant combinations in use).
        self.plans: dict[tuple[object, ...], Any] = {}

    def find(self, name: str) -> ModelGroup | None:
        """A model or an explicit alias; the built-in policy aliases are the router's."""
        return self.groups.get(name) or self.groups.get(self.config.aliases.get(name, ""))

    def resolve(self, name: str) -> ModelGroup:
        group = self.find(name)
        if group is None:
            raise ModelNotFound(
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
            )
        return group

    def _group(self, name: str, model: ModelConfig) -> ModelGroup:
        deployments = []
        seen: dict[str, int] = {}
        for row in model.deployments:
            base = f"{name}:{row.provider}:{row.model}"
            seen[base] = seen.get(base, 0) + 1
            deployment_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
            deployments.append(self._deployment(deployment_id, name, row))
        is_demo = all(
            self.config.providers[d.provider].adapter == "demo" for d in model.deployments
        )
        return ModelGroup(
            name=name,
            mode=model.mode,
            deployments=tuple(deployments),
            owned_by=model.owned_by or ("model-bridge-demo" if is_demo else "model-bridge"),
            created=self.loaded_at,
            config=model,
        )

    def _deployment(self, deployment_id: str, name: str, row: DeploymentConfig) -> Deployment:
        provider = self.config.providers[row.provider]
        return Deployment(
            id=deployment_id,
            public_model=name,
            provider=row.provider,
            adapter=ADAPTERS[provider.adapter],
            target=_target(row.provider, row.model, provider),
            weight=row.weight,
            price=row.price,
            tags=dict(row.tags),
            rpm=row.rpm,
            tpm=row.tpm,
            context_window=row.context_window,
            quality=row.quality,
        )


class RoutingHolder:
    """The current table. Replaced by one assignment, so readers never see a half-built one;
    followers (state kept beside the table, such as breaker settings) are told after it."""

    def __init__(self, table: RoutingTable) -> None:
        self.table = table
        self._followers: list[Callable[[RoutingTable], None]] = []

    def follow(self, follower: Callable[[RoutingTable], None]) -> None:
        self._followers.append(follower)

    def swap(self, table: RoutingTable) -> None:
        self.table = table
        for follower in self._followers:
            follower(table)


def _target(provider_name: str, model: str, provider: ProviderConfig) -> Target:
    return Target(
        provider=provider_name,
        model=model,
        api_base=(provider.api_base or "").rstrip("/"),
        api_key=provider.api_key.get_secret_value() if provider.api_key else None,
        api_version=provider.api_version,
        headers=dict(provider.headers),
    )
