"""The routing table: an immutable snapshot of `routing.yaml` with everything precomputed.

Built once per load, never mutated, so a request keeps the snapshot it started with while a
reload builds the next one beside it.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.adapters import ADAPTERS
from gateway.adapters.base import Adapter, Target
from gateway.config import Price, ProviderConfig, RoutingConfig
from gateway.errors import ModelNotFound


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    public_model: str
    provider: str
    adapter: Adapter
    target: Target
    weight: float
    price: Price


@dataclass(frozen=True, slots=True)
class ModelGroup:
    name: str
    deployments: tuple[Deployment, ...]
    cumulative_weights: tuple[float, ...]
    owned_by: str
    created: int

    def choose(self) -> Deployment:
        if len(self.deployments) == 1:
            return self.deployments[0]
        point = random.random() * self.cumulative_weights[-1]
        return self.deployments[bisect.bisect_right(self.cumulative_weights, point)]


class RoutingTable:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.loaded_at = int(time.time())
        self.groups: Mapping[str, ModelGroup] = {
            name: self._group(name, config) for name in config.models
        }

    def resolve(self, name: str) -> ModelGroup:
        group = self.groups.get(name)
        if group is None:
            raise ModelNotFound(
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
            )
        return group

    def _group(self, name: str, config: RoutingConfig) -> ModelGroup:
        model = config.models[name]
        deployments = []
        for index, row in enumerate(model.deployments):
            provider = config.providers[row.provider]
            deployments.append(
                Deployment(
                    id=f"{name}/{index}",
                    public_model=name,
                    provider=row.provider,
                    adapter=ADAPTERS[provider.adapter],
                    target=_target(row.provider, row.model, provider),
                    weight=row.weight,
                    price=row.price,
                )
            )
        is_demo = all(
            ADAPTERS[config.providers[d.provider].adapter].name == "demo" for d in model.deployments
        )
        return ModelGroup(
            name=name,
            deployments=tuple(deployments),
            cumulative_weights=tuple(itertools.accumulate(d.weight for d in deployments)),
            owned_by=model.owned_by or ("model-bridge-demo" if is_demo else "model-bridge"),
            created=self.loaded_at,
        )


class RoutingHolder:
    """The current table. Replaced by one assignment, so readers never see a half-built one."""

    def __init__(self, table: RoutingTable) -> None:
        self.table = table


def _target(provider_name: str, model: str, provider: ProviderConfig) -> Target:
    return Target(
        provider=provider_name,
        model=model,
        api_base=(provider.api_base or "").rstrip("/"),
        api_key=provider.api_key.get_secret_value() if provider.api_key else None,
        api_version=provider.api_version,
        headers=dict(provider.headers),
    )
