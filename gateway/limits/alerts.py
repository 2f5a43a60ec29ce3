"""Alerts when a budget or plan quota passes 50 %, 80 % and 100 %.

The request path only notices the crossing (from the charge it already has) and queues an
event. A background task records each threshold once per period across all processes (the
database's primary key decides), writes an audit entry, and posts the tenant's webhook, if
any: a JSON body signed with HMAC-SHA256, retried with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
import orjson

from gateway.limits.buckets import Charge
from gateway.store import audit, queries
from gateway.store.audit import Actor

logger = logging.getLogger(__name__)
THRESHOLDS = (50, 80, 100)
_FRACTIONS = tuple(t / 100 for t in THRESHOLDS)
_ROUNDING = 1e-9  # counters are floats: a budget spent exactly must read as 100 %
_Q = queries.load("alerts")
_SYSTEM = Actor(type="system", label="budget alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    tenant_id: str
    bucket: str
    label: str
    window: int
    threshold: int
    used_fraction: float


def crossed(charges: Iterable[Charge], tenant_id: str) -> list[Alert]:
    """Thresholds these charges took their buckets across (from below to at-or-above)."""
    alerts = []
    for charge in charges:
        bucket = charge.bucket
        if not (bucket.family == "budget" or bucket.period == "month") or bucket.limit <= 0:
            continue  # budgets and plan quotas only
        # Thresholds are counted by bisection, not tested one by one: those at or below the
        # fraction used after the charge, less those already passed before it.
        after = 1 - max(charge.remaining, 0.0) / bucket.limit
        reached = bisect_right(_FRACTIONS, after + _ROUNDING)
        if not reached:
            continue  # below the first threshold, as a bucket is most of the time
        before = after - charge.cost / bucket.limit
        passed = bisect_right(_FRACTIONS, before + _ROUNDING)
        for threshold in THRESHOLDS[passed:reached]:
            alerts.append(
                Alert(tenant_id, bucket.key, bucket.label, charge.window, threshold, after)
            )
    return alerts


def warning_header(alerts: list[Alert]) -> str:
    top = max(alerts, key=lambda a: a.threshold)
    return f"{top.threshold}% of the {top.label} is used"


class AlertDispatcher:
    def __init__(self, pool: Callable[[], Any], retries: int = 4) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=10_000)
        self._retries = retries

    def submit(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            if self._queue.full():
                logger.warning("alert queue full; dropping %s", alert.label)
                return
            self._queue.put_nowait(alert)

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                alert = await self._queue.get()
                try:
                    await self._deliver(alert, session)
                except (OSError, asyncpg.PostgresError) as exc:
                    logger.warning("budget alert not recorded (%s)", type(exc).__name__)

    async def _deliver(self, alert: Alert, session: aiohttp.ClientSession) -> None:
        pool = self._pool()
        tenant = UUID(alert.tenant_id)
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(
                _Q["claim"], alert.bucket, alert.window, alert.threshold, tenant
            ):
                return  # another process already did
            await audit.record(
                conn,
                _SYSTEM,
                "budget.threshold",
                tenant_id=tenant,
                target_type="limit",
                target_id=alert.label,
                changes={"threshold": alert.threshold, "used": round(alert.used_fraction, 4)},
            )
            row = await conn.fetchrow(_Q["webhook"], tenant)
        if row and row["alert_webhook_url"]:
            await self._post(session, row["alert_webhook_url"], row["alert_webhook_secret"], alert)

    async def _post(
        self, session: aiohttp.ClientSession, url: str, secret: str, alert: Alert
    ) -> None:
        body = orjson.dumps(
            {
                "type": "budget.threshold",
                "tenant_id": alert.tenant_id,
                "limit": alert.label,
                "threshold": alert.threshold,
                "used": round(alert.used_fraction, 4),
            }
        )
        for attempt in range(self._retries):
            stamp = str(int(time.time()))
            signature = hmac.new(
                secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "X-Model-Bridge-Signature": f"t={stamp},v1={signature}",
            }
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning(
                    "alert webhook attempt %d failed (%s)", attempt + 1, type(exc).__name__
                )
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        logger.error("alert webhook gave up after %d attempts", self._retries)
