"""What each deployment has done lately: requests in flight, latency, recent use, and its
circuit breaker. Per process, in memory; kept across routing reloads by deployment id.

Breaker: closed → open after `consecutive_failures` in a row, or an error rate over the
window once it has `min_requests`; open → half-open when the cool-down ends (or when failover
must probe it early, every breaker of a group being open), letting one probe through; the
probe's success closes it, its failure opens it again. An outcome that was the caller's
fault (`ok=None`) counts neither way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.routing.schema import BreakerConfig

_LATENCY_WEIGHT = 0.2  # EWMA: recent answers count, one slow answer does not dominate
_WINDOW_SLOTS = 20  # the breaker's window slides by a twentieth


class SlidingCount:
    """A sum over a sliding time window, kept in a fixed number of slots.

    Constant memory and no allocation per event, whatever the rate. A timestamp kept per
    event held the whole window's traffic instead: megabytes at a few thousand requests a
    second, each entry touched again as it left the window, long out of the CPU's caches.
    The window moves a slot at a time: the sum covers the current slot and the `slots - 1`
    before it, so between (slots - 1)/slots of the window and all of it.
    """

    __slots__ = ("_per_second", "_sums", "_ticks")

    def __init__(self, seconds: float, slots: int) -> None:
        self._per_second = slots / seconds  # slot ticks per second
        self._ticks = [-1] * slots  # the tick each slot holds
        self._sums = [0] * slots

    def add(self, now: float, amount: int = 1) -> None:
        tick = int(now * self._per_second)
        slot = tick % len(self._ticks)
        if self._ticks[slot] == tick:
            self._sums[slot] += amount
        else:  # the slot held a tick a window ago or more: start it afresh
            self._ticks[slot] = tick
            self._sums[slot] = amount

    def total(self, now: float) -> int:
        """The sum over the current slot and the ones before it within the window."""
        oldest = int(now * self._per_second) - len(self._ticks)
        pairs = zip(self._ticks, self._sums, strict=True)
        return sum(total for tick, total in pairs if tick > oldest)

    def clear(self) -> None:
        self._ticks = [-1] * len(self._ticks)


def minute_count() -> SlidingCount:
    return SlidingCount(60.0, 60)


@dataclass(slots=True)
class DeploymentHealth:
    # Outcomes within the breaker's window: those judged, and the failures among them.
    judged: SlidingCount
    failed: SlidingCount
    in_flight: int = 0
    latency: float | None = None  # EWMA seconds to first byte
    state: str = "closed"  # closed | open | half-open
    opened_at: float = 0.0
    consecutive_failures: int = 0
    probing: bool = False
    requests_per_minute: SlidingCount = field(default_factory=minute_count)
    tokens_per_minute: SlidingCount = field(default_factory=minute_count)


class HealthBoard:
    def __init__(self, breaker: BreakerConfig) -> None:
        self.breaker = breaker
        # A deployment's entry appears on its first mention: one lookup.
        self._by_id: defaultdict[str, DeploymentHealth] = defaultdict(self._new_health)
        # Told of every breaker opening or closing here (to share it with other processes).
        self.on_transition: Callable[[str, str], None] | None = None

    def apply_remote(self, deployment_id: str, state: str, now: float) -> None:
        """Another process's breaker opened or closed: follow it, without re-announcing."""
        health = self._by_id[deployment_id]
        if state == "open" and health.state != "open":
            health.state, health.opened_at, health.probing = "open", now, False
        elif state == "closed" and health.state != "closed":
            health.state, health.consecutive_failures, health.probing = "closed", 0, False
            _forget_outcomes(health)

    def configure(self, breaker: BreakerConfig) -> None:
        """New settings (a routing reload) judge from the next outcome; states carry over."""
        window_changed = breaker.window_seconds != self.breaker.window_seconds
        self.breaker = breaker
        if window_changed:
            for health in self._by_id.values():
                health.judged, health.failed = self._window(), self._window()

    def _window(self) -> SlidingCount:
        return SlidingCount(self.breaker.window_seconds, _WINDOW_SLOTS)

    def _new_health(self) -> DeploymentHealth:
        return DeploymentHealth(judged=self._window(), failed=self._window())

    def get(self, deployment_id: str) -> DeploymentHealth:
        return self._by_id[deployment_id]

    def snapshot(self) -> dict[str, DeploymentHealth]:
        return dict(self._by_id)

    def available(self, deployment_id: str, now: float) -> bool:
        """Whether the breaker lets a request through now (a half-open one lets one)."""
        health = self._by_id[deployment_id]
        if health.state == "closed":
            return True
        if health.state == "open" and now - health.opened_at >= self.breaker.cooldown_seconds:
            health.state = "half-open"
        return health.state == "half-open" and not health.probing

    def probe_early(self, deployment_id: str) -> None:
        """Half-open before the cool-down ends: the next request is a probe, judged as one."""
        health = self._by_id[deployment_id]
        if health.state == "open":
            health.state = "half-open"

    def started(self, deployment_id: str, now: float) -> None:
        health = self._by_id[deployment_id]
        health.in_flight += 1
        health.requests_per_minute.add(now)
        if health.state == "half-open":
            health.probing = True

    def finished(
        self,
        deployment_id: str,
        ok: bool | None,
        now: float,
        first_byte_seconds: float | None,
        tokens: int = 0,
    ) -> None:
        """Called once for each `started`, so the count in flight never goes below zero."""
        health = self._by_id[deployment_id]
        health.in_flight -= 1
        if tokens:
            health.tokens_per_minute.add(now, tokens)
        if ok is None:
            health.probing = False  # a half-open breaker lets the next request probe
            return
        if ok and first_byte_seconds is not None:
            previous = health.latency
            health.latency = (
                first_byte_seconds
                if previous is None
                else (previous + _LATENCY_WEIGHT * (first_byte_seconds - previous))
            )
        self._judge(deployment_id, health, ok, now)

    def _judge(self, deployment_id: str, health: DeploymentHealth, ok: bool, now: float) -> None:
        health.judged.add(now)
        if not ok:
            health.failed.add(now)
        if health.state == "half-open":
            self._end_probe(deployment_id, health, ok, now)
        elif ok:
            health.consecutive_failures = 0
        else:
            health.consecutive_failures += 1
            if health.state == "closed" and self._tripped(health, now):
                health.state, health.opened_at = "open", now
                self._announce(deployment_id, "open")

    def _end_probe(
        self, deployment_id: str, health: DeploymentHealth, ok: bool, now: float
    ) -> None:
        """The probe's success closes the breaker, its failure opens it for another cool-down."""
        health.probing = False
        health.opened_at = now
        if ok:
            health.state, health.consecutive_failures = "closed", 0
            _forget_outcomes(health)
        else:
            health.state = "open"
        self._announce(deployment_id, health.state)

    def _tripped(self, health: DeploymentHealth, now: float) -> bool:
        breaker = self.breaker
        if health.consecutive_failures >= breaker.consecutive_failures:
            return True
        total = health.judged.total(now)
        return (
            total >= breaker.min_requests and health.failed.total(now) / total >= breaker.error_rate
        )

    def _announce(self, deployment_id: str, state: str) -> None:
        if self.on_transition:
            self.on_transition(deployment_id, state)


def _forget_outcomes(health: DeploymentHealth) -> None:
    health.judged.clear()
    health.failed.clear()
