"""Running the app: one worker on uvloop, or a supervisor of N workers sharing the port.

SIGTERM drains: the listening socket closes at once, requests in flight (streams included)
get `server.grace_period_seconds` to finish, then the process exits 0.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from gateway.access_log import AccessLogger
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.credentials import Credentials
from gateway.routing.schema import RoutingConfig

logger = logging.getLogger(__name__)


def run_worker(
    config: GatewayConfig,
    routing: RoutingConfig,
    credentials: Credentials,
    dsn: str,
    routing_path: Path | None,
    *,
    reuse_port: bool,
) -> None:
    app = create_app(config, routing, credentials, dsn, routing_path)
    app.on_startup.append(_freeze_startup_heap)  # after every resource the app starts
    server = config.server
    logger.info("listening on http://%s:%s (pid %s)", server.host, server.port, os.getpid())
    web.run_app(
        app,
        host=server.host,
        port=server.port,
        reuse_port=reuse_port,
        shutdown_timeout=server.grace_period_seconds,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("gateway.access") if config.logging.access_log else None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


async def _freeze_startup_heap(_app: web.Application) -> None:
    """Exempts what start-up built (modules, config, pools, templates: nearly all the heap)
    from the cyclic garbage collector, which otherwise walks all of it in each full
    collection: a 47 ms pause, measured, every few thousand requests. The serving process's
    own choice, so the app stays safe to start inside another."""
    gc.collect()  # start-up's own garbage is freed now, not kept for good
    gc.freeze()


def supervise(worker_argv: Sequence[str], workers: int, env: dict[str, str]) -> int:
    """Starts `workers` copies of this command as single workers and relays signals to them.

    A worker that dies on its own takes the others down: restarting is the job of the
    process manager above us (systemd, Kubernetes), which sees the non-zero exit.
    """
    children = [subprocess.Popen(worker_argv, env=env) for _ in range(workers)]  # noqa: S603
    stopping = False

    def relay(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        relay(signum, frame)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, relay)  # reload the routing file in every worker
    status = 0
    pending = list(children)
    while pending:
        pid, code = os.wait()
        exited = [c for c in pending if c.pid == pid]
        if not exited:
            continue
        pending.remove(exited[0])
        exited[0].returncode = os.waitstatus_to_exitcode(code)
        if exited[0].returncode != 0:
            status = 1
            if not stopping:
                logger.error("worker %s exited with %s; stopping", pid, exited[0].returncode)
                stop(signal.SIGTERM, None)
    return status


def worker_command(argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "gateway", *argv, "--as-worker"]
