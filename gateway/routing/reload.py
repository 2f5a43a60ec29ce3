"""Reloading `routing.yaml` while serving: on a file change, SIGHUP, or an admin call.

The new file is loaded and validated completely, the new table built beside the old one,
and only then swapped in with one assignment; requests in flight keep the table they
started with. A file that does not validate is rejected: its error is logged, counted and
kept for the admin API, and the old table goes on serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.config import ConfigError, load_routing_config
from gateway.metrics import Metrics
from gateway.routing.table import RoutingHolder, RoutingTable
from gateway.transports import TransportPool

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadResult:
    at: float
    ok: bool
    error: str | None = None


class Reloader:
    def __init__(
        self,
        holder: RoutingHolder,
        path: Path | None,
        transports: TransportPool,
        metrics: Metrics,
    ) -> None:
        self.holder = holder
        self.path = path
        self._transports = transports
        self._metrics = metrics
        self.last = ReloadResult(time.time(), True)
        self._lock = asyncio.Lock()

    async def reload(self) -> ReloadResult:
        if self.path is None:
            return ReloadResult(time.time(), False, "no routing file: the built-in demo routing")
        async with self._lock:
            try:
                config = await asyncio.to_thread(load_routing_config, self.path)
            except ConfigError as exc:
                return self._reject(str(exc))
            except UnicodeDecodeError as exc:
                # A file caught half-written can end inside a multi-byte character.
                return self._reject(f"{self.path}: not valid UTF-8 ({exc.reason})")
            table = RoutingTable(config)
            self._transports.sync(config.providers)
            self.holder.swap(table)
            self.last = ReloadResult(time.time(), True)
            self._metrics.routing_reloads.labels("applied").inc()
            logger.info("routing reloaded: %d models", len(config.models))
            return self.last

    def _reject(self, error: str) -> ReloadResult:
        self.last = ReloadResult(time.time(), False, error)
        self._metrics.routing_reloads.labels("rejected").inc()
        logger.error("routing reload rejected; the previous routing stays:\n%s", error)
        return self.last

    async def watch(self, interval: float = 1.0) -> None:
        """Polls the file's stat: portable, and one stat per second is free."""
        if self.path is None:
            return
        seen = _signature(self.path)
        while True:
            await asyncio.sleep(interval)
            current = _signature(self.path)
            if current != seen:
                seen = current
                await self.reload()


def _signature(path: Path) -> tuple[int, int, int] | None:
    """Modification time, size and inode: the kernel stamps times at a coarse clock tick,
    so a file written in two steps within one tick differs from what was read only in
    size; a file replaced by a rename, only in its inode."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino
