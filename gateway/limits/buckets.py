"""The buckets one request is charged against, and what a limiter answers.

A bucket is a counter over a period (minute, UTC day, UTC month) or a set of requests in
flight. All of a request's buckets share one hash tag, the tenant, so a Redis Cluster keeps
them in one slot and one script can check and charge them atomically.

A bucket is what a key is limited by and does not change between its requests; what one
request costs each bucket comes with the request, by family (`Amounts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

Period = Literal["minute", "day", "month", "inflight"]
Family = Literal["requests", "tokens", "budget", "concurrency"]
Amounts = Mapping[Family, float]


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    family: Family
    period: Period
    limit: float
    label: str  # for the client: "requests per minute for this key"


# Charges and decisions are made per request: named tuples are as immutable as the frozen
# dataclass above, and build in one step rather than attribute by attribute.
class Charge(NamedTuple):
    """A bucket as charged: by how much, which window it fell in, what is left, when it
    resets."""

    bucket: Bucket
    cost: float
    window: int
    remaining: float
    reset_seconds: float
    local: bool = False  # charged by the in-process fallback while Redis was unreachable


class Decision(NamedTuple):
    admitted: bool
    charges: tuple[Charge, ...] = ()
    refused: Bucket | None = None
    retry_after: float = 0.0


class Limiter(Protocol):
    async def acquire(
        self, buckets: Sequence[Bucket], amounts: Amounts, request_id: str
    ) -> Decision:
        """Checks every bucket and charges each its family's amount only if all pass."""

    async def settle(self, charges: tuple[Charge, ...], actual: Amounts, request_id: str) -> None:
        """Replaces each window charge's estimate with the actual amount (tokens, cost) and
        releases the request's concurrency slots."""
