"""A load driver: fixed concurrency, bounded by request count and time, loopback only.

Prints one JSON object: completed, errors, elapsed seconds, latency percentiles and, for
streams, time to the first body chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp
import orjson
import uvloop


async def drive(
    url: str, body: bytes, key: str | None, requests: int, concurrency: int, seconds: float
) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    latencies: list[float] = []
    first_bytes: list[float] = []
    errors = 0
    remaining = requests
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        first = None
                        async for _ in response.content.iter_any():
                            if first is None:
                                first = time.perf_counter() - started
                        if response.status != 200:
                            errors += 1
                            continue
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if first is not None:
                    first_bytes.append(first)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "completed": len(latencies),
        "errors": errors,
        "elapsed": elapsed,
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "ttfb_p50_ms": _percentile(first_bytes, 50),
    }


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--key")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    a = parser.parse_args()
    result = uvloop.run(drive(a.url, a.body.encode(), a.key, a.requests, a.concurrency, a.seconds))
    print(orjson.dumps(result).decode())
