"""The in-process limiter: exact for one process (several processes need Redis)."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from gateway.limits.buckets import Bucket, Charge, Decision, Family, Period

INFLIGHT_TTL = 600.0  # a request slot held longer than this is presumed leaked


def window_of(period: Period, now: float) -> tuple[int, float]:
    """The window a moment falls in, and the seconds until it ends (UTC calendar)."""
    if period == "minute":
        return int(now // 60), 60 - now % 60
    if period == "day":
        return int(now // 86400), 86400 - now % 86400
    window, end = _month_of_day(int(now // 86400))
    return window, end - now


@lru_cache(maxsize=4)
def _month_of_day(day: int) -> tuple[int, float]:
    """The UTC month a day falls in and when it ends: calendar work once a day, not per call."""
    moment = datetime.fromtimestamp(day * 86400, UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()
    return moment.year * 12 + moment.month - 1, start + days * 86400


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[tuple[str, Period, int], float] = {}
        self._inflight: dict[str, dict[str, float]] = {}

    async def acquire(self, buckets: list[Bucket], request_id: str) -> Decision:
        now = self._clock()
        charges = []
        for bucket in buckets:
            if bucket.period == "inflight":
                slots = self._slots(bucket.key, now)
                if len(slots) + 1 > bucket.limit:
                    return Decision(False, refused=bucket, retry_after=1.0)
                charges.append(Charge(bucket, 0, bucket.limit - len(slots) - 1, 0.0))
                continue
            window, reset = window_of(bucket.period, now)
            used = self._counters.get((bucket.key, bucket.period, window), 0.0)
            if used + bucket.cost > bucket.limit:
                return Decision(False, refused=bucket, retry_after=reset)
            charges.append(Charge(bucket, window, bucket.limit - used - bucket.cost, reset))
        for charge in charges:  # all passed: charge all
            bucket = charge.bucket
            if bucket.period == "inflight":
                self._inflight.setdefault(bucket.key, {})[request_id] = now + INFLIGHT_TTL
            else:
                key = (bucket.key, bucket.period, charge.window)
                self._counters[key] = self._counters.get(key, 0.0) + bucket.cost
        self._forget_old(now)
        return Decision(True, tuple(charges))

    async def settle(
        self, charges: tuple[Charge, ...], actual: dict[Family, float], request_id: str
    ) -> None:
        for charge in charges:
            bucket = charge.bucket
            if bucket.period == "inflight":
                self._inflight.get(bucket.key, {}).pop(request_id, None)
            elif bucket.family in actual:
                key = (bucket.key, bucket.period, charge.window)
                if key in self._counters:
                    self._counters[key] += actual[bucket.family] - bucket.cost

    def _slots(self, key: str, now: float) -> dict[str, float]:
        slots = self._inflight.setdefault(key, {})
        for request_id in [r for r, expires in slots.items() if expires < now]:
            del slots[request_id]
        return slots

    def _forget_old(self, now: float) -> None:
        if len(self._counters) < 50_000:
            return
        current = {period: window_of(period, now)[0] for period in ("minute", "day", "month")}
        self._counters = {
            key: used for key, used in self._counters.items() if key[2] >= current[key[1]]
        }
