"""One measured run: the load driver against one target, and the CPU its servers spent on it.

CPU is read from the server's process tree before and after the driver runs, so it counts
exactly the work this load caused there (plus whatever the server does idly in the same
seconds, which is also a cost of running it). The stores behind the gateway (its embedded
PostgreSQL, Redis in `--redis` runs) are a separate column: a pass-through has none, and
leaving them out would flatter the gateway.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil
from cpu import tree_seconds
from processes import ROOT, StartError, run_captured

# Batched usage writes land a moment after the last answer; let them count.
SETTLE_SECONDS = 0.2


@dataclass(frozen=True)
class Target:
    """Something to send load to: a base URL, a key if it needs one, processes to measure."""

    name: str
    url: str
    key: str | None = None
    server: psutil.Process | None = None
    stores: tuple[psutil.Process, ...] = ()


@dataclass(frozen=True)
class Load:
    """How much load one run sends: bounded by count and by time, whichever ends first."""

    requests: int
    concurrency: int
    seconds: float


def measure(target: Target, body: str, load: Load) -> dict[str, Any]:
    """Runs the driver in its own process; its result plus `cpu_us` (the server) and `db_us`
    (its stores) per request served."""
    command = [
        sys.executable,
        str(ROOT / "bench" / "driver.py"),
        "--url",
        f"{target.url}/v1/chat/completions",
        "--body",
        body,
        "--requests",
        str(load.requests),
        "--concurrency",
        str(load.concurrency),
        "--seconds",
        str(load.seconds),
    ]
    if target.key:
        command += ["--key", target.key]
    before = _cpu(target)
    try:
        out = run_captured(command, timeout=load.seconds + 60)
    except StartError as exc:
        raise StartError(f"the load driver failed against {target.name}: {exc}") from exc
    if target.server is not None:
        time.sleep(SETTLE_SECONDS)
    after = _cpu(target)
    result: dict[str, Any] = json.loads(out)
    served = max(1, result["completed"])
    for field, start, end in zip(("cpu_us", "db_us"), before, after, strict=True):
        spent = end - start if start is not None and end is not None else -1.0
        result[field] = spent / served * 1e6 if spent >= 0 else None  # < 0: the process went
    return result


def _cpu(target: Target) -> tuple[float | None, float | None]:
    return (
        tree_seconds(target.server) if target.server is not None else None,
        sum(tree_seconds(store) for store in target.stores) if target.stores else None,
    )
