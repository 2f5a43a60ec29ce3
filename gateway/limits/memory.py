"""The in-process limiter: exact for one process (several processes need Redis)."""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from gateway.limits.buckets import Amounts, Bucket, Charge, Decision, Period

INFLIGHT_TTL = 600.0  # a request slot held longer than this is presumed leaked
_MAX_COUNTERS = 50_000  # past this, counters of windows that have ended are dropped
_NO_WINDOW = (0, math.inf, -math.inf)  # holds no moment: computed on first use


def window_of(period: Period, now: float) -> tuple[int, float]:
    """The window a moment falls in, and the seconds until it ends (UTC calendar)."""
    window, _start, end = _bounds(period, now)
    return window, end - now


def _bounds(period: Period, now: float) -> tuple[int, float, float]:
    """The window a moment falls in, and when that window starts and ends."""
    if period == "minute":
        window = int(now // 60)
        return window, window * 60.0, window * 60.0 + 60
    if period == "day":
        window = int(now // 86400)
        return window, window * 86400.0, window * 86400.0 + 86400
    return _month_of_day(int(now // 86400))


@lru_cache(maxsize=4)
def _month_of_day(day: int) -> tuple[int, float, float]:
    """The UTC month a day falls in, its start and its end: calendar work once a day."""
    moment = datetime.fromtimestamp(day * 86400, UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()
    return moment.year * 12 + moment.month - 1, start, start + days * 86400


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[tuple[str, Period, int], float] = {}
        self._inflight: dict[str, dict[str, float]] = {}
        self._windows: dict[Period, tuple[int, float, float]] = {}

    async def acquire(
        self, buckets: Sequence[Bucket], amounts: Amounts, request_id: str
    ) -> Decision:
        now = self._clock()
        charges = []
        for bucket in buckets:
            period, cost = bucket.period, amounts[bucket.family]
            if period == "inflight":
                slots = self._slots(bucket.key, now)
                if len(slots) + 1 > bucket.limit:
                    return Decision(False, refused=bucket, retry_after=1.0)
                charges.append(Charge(bucket, cost, 0, bucket.limit - len(slots) - 1, 0.0))
                continue
            window, reset = self._window(period, now)
            used = self._counters.get((bucket.key, period, window), 0.0)
            if used + cost > bucket.limit:
                return Decision(False, refused=bucket, retry_after=reset)
            charges.append(Charge(bucket, cost, window, bucket.limit - used - cost, reset))
        for charge in charges:  # all passed: charge all
            bucket = charge.bucket
            if bucket.period == "inflight":
                self._inflight.setdefault(bucket.key, {})[request_id] = now + INFLIGHT_TTL
            else:
                key = (bucket.key, bucket.period, charge.window)
                self._counters[key] = self._counters.get(key, 0.0) + charge.cost
        if len(self._counters) >= _MAX_COUNTERS:
            self._forget_old(now)
        return Decision(True, tuple(charges))

    async def settle(self, charges: tuple[Charge, ...], actual: Amounts, request_id: str) -> None:
        for charge in charges:
            bucket = charge.bucket
            if bucket.period == "inflight":
                self._inflight.get(bucket.key, {}).pop(request_id, None)
            elif bucket.family in actual:
                key = (bucket.key, bucket.period, charge.window)
                if key in self._counters:
                    self._counters[key] += actual[bucket.family] - charge.cost

    def _window(self, period: Period, now: float) -> tuple[int, float]:
        """`window_of`, with the calendar work done once per window rather than per call:
        a window holds until it ends (or until the clock steps back out of it)."""
        window, start, end = self._windows.get(period, _NO_WINDOW)
        if not start <= now < end:
            window, start, end = self._windows[period] = _bounds(period, now)
        return window, end - now

    def _slots(self, key: str, now: float) -> dict[str, float]:
        slots = self._inflight.setdefault(key, {})
        for request_id in [r for r, expires in slots.items() if expires < now]:
            del slots[request_id]
        return slots

    def _forget_old(self, now: float) -> None:
        current = {period: window_of(period, now)[0] for period in ("minute", "day", "month")}
        self._counters = {
            key: used for key, used in self._counters.items() if key[2] >= current[key[1]]
        }
