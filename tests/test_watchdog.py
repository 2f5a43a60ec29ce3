"""The stream silence limit: time waiting on the upstream counts, time relaying does not."""

from __future__ import annotations

import asyncio

import pytest

from gateway.upstream import Watchdog

LIMIT = 0.1


async def test_time_spent_relaying_never_counts_as_silence() -> None:
    silence = Watchdog(LIMIT)
    try:
        for _ in range(3):
            silence.waiting()
            await asyncio.sleep(LIMIT / 2)  # the upstream answers in time
            silence.received()
            await asyncio.sleep(LIMIT * 2)  # a slow client: longer than the limit, not waiting
        silence.waiting()
        await asyncio.sleep(LIMIT / 2)
    finally:
        silence.stop()
    assert not silence.expired()


async def test_waiting_past_the_limit_cancels_the_wait_and_says_so() -> None:
    silence = Watchdog(LIMIT)
    silence.waiting()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(LIMIT * 5)
    assert silence.expired()
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    silence.stop()


async def test_someone_elses_cancellation_is_not_taken_for_silence() -> None:
    async def reader(started: asyncio.Event) -> bool:
        silence = Watchdog(LIMIT * 10)
        silence.waiting()
        started.set()
        try:
            await asyncio.sleep(LIMIT * 20)
        except asyncio.CancelledError:
            return silence.expired()
        finally:
            silence.stop()
        return True

    started = asyncio.Event()
    task = asyncio.create_task(reader(started))
    await started.wait()
    task.cancel()
    assert await task is False
