"""Failed sign-in throttling, per account and per client address.

A sliding window of recent failures; over the limit, sign-in is refused (even with the right
password) until the oldest failure leaves the window. In memory: with several processes each
keeps its own window, so the effective limit is per process.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

_MAX_SUBJECTS = 100_000


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_seconds: float = 900.0) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, *subjects: str) -> float:
        """Seconds until these subjects may try again; 0 when they may now."""
        now = time.monotonic()
        wait = 0.0
        for subject in subjects:
            if subject not in self._failures:
                continue
            recent = self._recent(subject, now)
            if len(recent) >= self._max:
                wait = max(wait, recent[0] + self._window - now)
        return wait

    def failed(self, *subjects: str) -> None:
        now = time.monotonic()
        if len(self._failures) > _MAX_SUBJECTS:
            self._forget_expired(now)
        for subject in subjects:
            self._recent(subject, now).append(now)

    def succeeded(self, subject: str) -> None:
        self._failures.pop(subject, None)

    def _forget_expired(self, now: float) -> None:
        """Bounds memory under a flood of made-up accounts."""
        for subject in [s for s, r in self._failures.items() if r[-1] <= now - self._window]:
            del self._failures[subject]

    def _recent(self, subject: str, now: float) -> deque[float]:
        recent = self._failures[subject]
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        return recent
