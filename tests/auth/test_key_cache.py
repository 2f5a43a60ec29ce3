from __future__ import annotations

import asyncio

import pytest

from gateway.auth.key_cache import KeyCache


class Loader:
    def __init__(self, table: dict[bytes, str]) -> None:
        self.table = table
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, key_hash: bytes) -> str | None:
        self.calls += 1
        await self.gate.wait()
        return self.table.get(key_hash)


async def test_hits_never_reload() -> None:
    loader = Loader({b"k": "alice"})
    cache: KeyCache[str] = KeyCache(loader)
    assert [await cache.get(b"k") for _ in range(100)] == ["alice"] * 100
    assert loader.calls == 1


async def test_concurrent_misses_load_once() -> None:
    loader = Loader({b"k": "alice"})
    loader.gate.clear()
    cache: KeyCache[str] = KeyCache(loader)
    waiting = [asyncio.create_task(cache.get(b"k")) for _ in range(50)]
    await asyncio.sleep(0)
    loader.gate.set()
    assert await asyncio.gather(*waiting) == ["alice"] * 50
    assert loader.calls == 1


async def test_unknown_keys_are_negatively_cached_then_expire() -> None:
    loader = Loader({})
    cache: KeyCache[str] = KeyCache(loader, negative_ttl=0.05)
    for _ in range(20):
        assert await cache.get(b"bad") is None
    assert loader.calls == 1
    await asyncio.sleep(0.06)
    await cache.get(b"bad")
    assert loader.calls == 2


async def test_invalidation_drops_entry_and_beats_a_racing_load() -> None:
    loader = Loader({b"k": "old"})
    cache: KeyCache[str] = KeyCache(loader)
    assert await cache.get(b"k") == "old"
    loader.table[b"k"] = "new"
    cache.invalidate(b"k")
    assert await cache.get(b"k") == "new"

    loader.gate.clear()
    racing = asyncio.create_task(cache.get(b"k2"))
    await asyncio.sleep(0)
    cache.invalidate(b"k2")  # arrives while the load is in flight
    loader.gate.set()
    await racing
    await cache.get(b"k2")
    assert loader.calls == 4  # the raced result was not cached


async def test_invalidate_where_drops_matching_entries() -> None:
    loader = Loader({b"a": "tenant-1", b"b": "tenant-2"})
    cache: KeyCache[str] = KeyCache(loader)
    await cache.get(b"a")
    await cache.get(b"b")
    cache.invalidate_where(lambda v: v == "tenant-1")
    await cache.get(b"a")
    await cache.get(b"b")
    assert loader.calls == 3


async def test_a_failing_load_is_not_cached() -> None:
    calls = 0

    async def broken(key_hash: bytes) -> str | None:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    cache: KeyCache[str] = KeyCache(broken)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await cache.get(b"k")
    assert calls == 2
