"""The breaker's error-rate window on the board itself: what it counts, what it forgets, and
that a busy deployment's window costs no more memory than a quiet one's."""

from __future__ import annotations

import tracemalloc

from gateway.routing.health import HealthBoard
from gateway.routing.schema import BreakerConfig

RATE_ONLY = BreakerConfig(
    consecutive_failures=1000, error_rate=0.5, min_requests=10, window_seconds=30.0
)


def judge(board: HealthBoard, ok: bool, now: float) -> None:
    board.started("d", now)
    board.finished("d", ok, now, 0.1)


def test_a_busy_window_is_counted_in_constant_memory() -> None:
    board = HealthBoard(RATE_ONLY)
    judge(board, True, 999.0)  # the entry and its slots exist before measuring
    tracemalloc.start()
    try:
        for i in range(100_000):  # 50,000 outcomes a second, a fifth of them failures
            judge(board, i % 5 != 0, 1000.0 + i / 50_000)
        grown, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    health = board.get("d")
    assert health.judged.total(1002.0) == 100_001
    assert health.failed.total(1002.0) == 20_000
    assert health.state == "closed"  # a fifth is under the rate
    assert grown < 10_000


def test_the_rate_counts_only_the_window() -> None:
    board = HealthBoard(RATE_ONLY)
    for i in range(9):  # failures long past (fewer than min_requests): they no longer count
        judge(board, False, 100.0 + i * 0.1)
    for second in range(10):
        judge(board, True, 200.0 + second)
    health = board.get("d")
    assert health.failed.total(210.0) == 0
    assert health.state == "closed"
    for second in range(9):  # 9 failures against 10 successes: just under half
        judge(board, False, 210.0 + second)
    assert health.state == "closed"
    judge(board, False, 219.5)  # 10 of 20: the rate is reached
    assert health.state == "open"


def test_a_new_window_length_judges_from_the_next_outcome() -> None:
    board = HealthBoard(RATE_ONLY)
    for i in range(9):
        judge(board, False, 50.0 + i * 0.01)
    board.configure(RATE_ONLY.model_copy(update={"window_seconds": 10.0}))
    health = board.get("d")
    assert health.judged.total(51.0) == 0
    for i in range(9):
        judge(board, True, 51.0 + i * 0.01)
    judge(board, False, 52.0)  # 1 of 10 in the new window: the old failures are forgotten
    assert health.state == "closed"
