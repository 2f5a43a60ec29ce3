"""The buckets one request is charged against, and what a limiter answers.

A bucket is a counter over a period (minute, UTC day, UTC month) or a set of requests in
flight. All of a request's buckets share one hash tag, the tenant, so a Redis Cluster keeps
them in one slot and one script can check and charge them atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Period = Literal["minute", "day", "month", "inflight"]
Family = Literal["requests", "tokens", "budget", "concurrency"]


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    family: Family
    period: Period
    limit: float
    cost: float
    label: str  # for the client: "requests per minute for this key"


@dataclass(frozen=True, slots=True)
class Charge:
    """A bucket as charged: which window it fell in, what is left, when it resets."""

    bucket: Bucket
    window: int
    remaining: float
    reset_seconds: float
    local: bool = False  # charged by the in-process fallback while Redis was unreachable


@dataclass(frozen=True, slots=True)
class Decision:
    admitted: bool
    charges: tuple[Charge, ...] = ()
    refused: Bucket | None = None
    retry_after: float = 0.0


class Limiter(Protocol):
    async def acquire(self, buckets: list[Bucket], request_id: str) -> Decision: ...

    async def settle(
        self, charges: tuple[Charge, ...], actual: dict[Family, float], request_id: str
    ) -> None:
        """Replaces each window charge's estimate with the actual amount (tokens, cost) and
        releases the request's concurrency slots."""
