"""A usage report (`gateway.store.usage.report`) as the console shows it: typed rows, keys
and users by name instead of id, and totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from gateway.store import usage

NOBODY = "00000000-0000-0000-0000-000000000000"  # the rollups' stand-in for "no key/user"
NONE_LABEL = "(none)"


@dataclass(frozen=True, slots=True)
class UsageRow:
    bucket: str  # the report's group value: a day, a model, a key id…
    label: str  # what people read: a key's name, a member's email, or the bucket itself
    requests: int
    errors: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    mean_latency_ms: float | None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


async def load(
    pool: Any,
    tenant_id: UUID | None,
    since: datetime,
    until: datetime,
    dimension: str,
    tag: str | None = None,
) -> list[UsageRow]:
    """The report's rows, in its order (by bucket); `tenant_id` None: the whole platform."""
    report = await usage.report(pool, tenant_id, since, until, dimension, tag)
    names = await _names(pool, tenant_id, dimension, [row["bucket"] for row in report])
    return [
        UsageRow(
            bucket=row["bucket"],
            label=names.get(row["bucket"]) or _plain(row["bucket"]),
            requests=row["requests"],
            errors=row["errors"],
            cache_hits=row["cache_hits"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            cost_usd=row["cost_usd"],
            mean_latency_ms=row["mean_latency_ms"],
        )
        for row in report
    ]


def by_spend(rows: list[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda row: (-row.cost_usd, -row.requests, row.label))


def total(rows: list[UsageRow]) -> UsageRow:
    requests = sum(row.requests for row in rows)
    latency = sum((row.mean_latency_ms or 0.0) * row.requests for row in rows)
    return UsageRow(
        bucket="",
        label="Total",
        requests=requests,
        errors=sum(row.errors for row in rows),
        cache_hits=sum(row.cache_hits for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        cost_usd=sum((row.cost_usd for row in rows), Decimal(0)),
        mean_latency_ms=latency / requests if requests else None,
    )


def time_bucket(start: datetime, unit: str) -> str:
    """How the report names the hour or day that begins at `start` (see usage.sql)."""
    return start.strftime("%Y-%m-%dT%H:00Z" if unit == "hour" else "%Y-%m-%d")


def timeline(
    rows: list[UsageRow], since: datetime, until: datetime, unit: str
) -> list[tuple[datetime, UsageRow | None]]:
    """Every hour or day from `since` (a boundary of one) to `until`, with its row if it had
    any requests: a chart over time must show the quiet days too."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    found = {row.bucket: row for row in rows}
    starts = [since + step * i for i in range(int((until - since) / step))]
    return [(start, found.get(time_bucket(start, unit))) for start in starts]


async def _names(
    pool: Any, tenant_id: UUID | None, dimension: str, buckets: list[str]
) -> dict[str, str]:
    """Names only for the tenant's own keys and members; anything else keeps its id."""
    if dimension not in ("key", "user"):
        return {}
    ids = [UUID(bucket) for bucket in buckets if bucket != NOBODY]
    if dimension == "key":
        return await usage.key_names(pool, tenant_id, ids)
    return await usage.member_emails(pool, tenant_id, ids)


def _plain(bucket: str) -> str:
    return NONE_LABEL if bucket in ("", NOBODY) else bucket
