"""A load driver: fixed concurrency, bounded by request count and by time, loopback only.

It runs in a process of its own so that its CPU never lands on a server's account. It checks
every answer (status 200, a completion's `choices`, a stream's closing `[DONE]`): an error
path is fast, and counting it as a success would flatter whoever fails. Prints one JSON
object: completed, errors by kind, requests cut off by the time limit, elapsed seconds,
requests per second, latency percentiles and, for streams, the time to the first body chunk.

    python bench/driver.py --url http://127.0.0.1:P/v1/chat/completions --body '{...}'
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvloop

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_DONE = b"data: [DONE]\n\n"
GRACE_SECONDS = 5.0


@dataclass
class Tally:
    """What the workers saw; one instance shared by all of them on one event loop."""

    started: int = 0
    latencies: list[float] = field(default_factory=list)
    first_chunks: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def _request(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], tally: Tally
) -> None:
    started = time.perf_counter()
    first: float | None = None
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.content_type == "text/event-stream":
                tail = b""
                async for chunk in response.content.iter_any():
                    if first is None:
                        first = time.perf_counter() - started
                    tail = (tail + chunk)[-len(_DONE) :]
                problem = None if tail == _DONE else "stream without [DONE]"
            else:
                problem = None if b'"choices"' in await response.read() else "no choices"
            if response.status != 200:
                problem = f"status {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        problem = type(exc).__name__
    if problem is not None:
        tally.errors[problem] += 1
        return
    tally.latencies.append(time.perf_counter() - started)
    if first is not None:
        tally.first_chunks.append(first)


async def drive(
    url: str, body: bytes, key: str | None, requests: int, concurrency: int, seconds: float
) -> dict[str, object]:
    """Keeps `concurrency` requests in flight until `requests` have started or `seconds` have
    passed. Requests in flight at the deadline get a short grace to finish; whatever is still
    running after it is cancelled and counted as cut off, so no run outlives its limit by more
    than the grace, whatever the server does."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: the driver only talks to loopback")
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        while tally.started < requests and time.perf_counter() < deadline:
            tally.started += 1
            await _request(session, url, body, headers, tally)

    connector = aiohttp.TCPConnector(limit=concurrency)
    grace = min(GRACE_SECONDS, seconds)
    timeout = aiohttp.ClientTimeout(total=seconds + grace)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(seconds + grace):
                await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        except TimeoutError:
            pass
        elapsed = time.perf_counter() - started
    completed = len(tally.latencies)
    errors = sum(tally.errors.values())
    return {
        "completed": completed,
        "errors": errors,
        "error_kinds": dict(tally.errors),
        "cut_off": tally.started - completed - errors,
        "hit_time_limit": tally.started < requests,
        "elapsed": elapsed,
        "rps": completed / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile_ms(tally.latencies, 50),
        "p99_ms": percentile_ms(tally.latencies, 99),
        "ttfb_p50_ms": percentile_ms(tally.first_chunks, 50),
    }


def percentile_ms(values: list[float], pct: int) -> float | None:
    """Interpolated percentile of seconds, in milliseconds; None when nothing was measured."""
    if not values:
        return None
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description="bounded load against one loopback URL")
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--key", help="sent as `Authorization: Bearer <key>`")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    a = parser.parse_args()
    result = uvloop.run(drive(a.url, a.body.encode(), a.key, a.requests, a.concurrency, a.seconds))
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
