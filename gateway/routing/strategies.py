"""Ordering a group's deployments for one request: the first is tried first.

Every strategy returns all candidates, best first, so failover simply walks the list.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gateway.routing.health import HealthBoard
from gateway.routing.table import Deployment

Order = Callable[[Sequence[Deployment], HealthBoard, float], list[Deployment]]


def weighted(candidates: Sequence[Deployment], board: HealthBoard, now: float) -> list[Deployment]:
    """Weighted random order without replacement (Efraimidis-Spirakis keys)."""
    return sorted(candidates, key=lambda d: random.random() ** (1.0 / d.weight), reverse=True)


def least_busy(
    candidates: Sequence[Deployment], board: HealthBoard, now: float
) -> list[Deployment]:
    return _by(candidates, lambda d: board.get(d.id).in_flight)


def lowest_latency(
    candidates: Sequence[Deployment], board: HealthBoard, now: float
) -> list[Deployment]:
    """Unmeasured deployments first, so each gets measured; then fastest first."""
    return _by(candidates, lambda d: board.get(d.id).latency or 0.0)


def lowest_cost(
    candidates: Sequence[Deployment], board: HealthBoard, now: float
) -> list[Deployment]:
    return _by(candidates, lambda d: d.price.input + d.price.output)


def usage_based(
    candidates: Sequence[Deployment], board: HealthBoard, now: float
) -> list[Deployment]:
    """Most remaining share of its rpm/tpm capacity first; no capacity set means unlimited."""

    def used(d: Deployment) -> float:
        health = board.get(d.id)
        shares = [0.0]
        if d.rpm:
            shares.append(health.requests_per_minute.total(now) / d.rpm)
        if d.tpm:
            shares.append(health.tokens_per_minute.total(now) / d.tpm)
        return max(shares)

    return _by(candidates, used)


def _by(candidates: Sequence[Deployment], key: Callable[[Deployment], object]) -> list[Deployment]:
    shuffled = list(candidates)
    random.shuffle(shuffled)  # ties are broken at random, not by file order
    return sorted(shuffled, key=key)  # type: ignore[arg-type]


STRATEGIES: dict[str, Order] = {
    "weighted": weighted,
    "least-busy": least_busy,
    "lowest-latency": lowest_latency,
    "lowest-cost": lowest_cost,
    "usage-based": usage_based,
}
