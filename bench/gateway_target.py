"""The gateway as a benchmark target: configured in a temporary folder, started, made ready.

With no database URL the gateway runs an embedded PostgreSQL under its data folder. That
server is not the gateway's child (it is started detached), so it is found through its
`postmaster.pid` and measured separately, and stopped here if it outlives the gateway.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml
from processes import Children, StartError, child_env, free_port, run_captured

logger = logging.getLogger(__name__)

MODEL = "bench-model"
CACHED_MODEL = "bench-cached"


@dataclass(frozen=True)
class Gateway:
    """A running gateway: where it listens, the keys to call it with, what to measure."""

    url: str
    process: psutil.Process
    master_key: str
    tenant_key: str | None
    database: psutil.Process | None


def write_config(workdir: Path, upstream: str, extra: dict[str, Any] | None) -> list[str]:
    """Writes gateway.yaml and routing.yaml; returns the `--config/--routing` arguments."""
    gateway: dict[str, Any] = {
        "server": {"data_dir": str(workdir / "data")},
        "logging": {"level": "WARNING", "access_log": False},
    }
    deployment = {
        "provider": "bench",
        "model": MODEL,
        "weight": 1,
        "price": {"input": 0.15, "output": 0.60},
    }
    routing = {
        "providers": {
            "bench": {"adapter": "openai", "api_base": f"{upstream}/v1", "api_key": "bench-key"}
        },
        "models": {
            MODEL: {"deployments": [deployment]},
            # The same upstream behind the response cache, for the cache-hit scenario.
            CACHED_MODEL: {"cache": {"enabled": True}, "deployments": [deployment]},
        },
    }
    config_path, routing_path = workdir / "gateway.yaml", workdir / "routing.yaml"
    config_path.write_text(yaml.safe_dump(merge(gateway, extra or {}), sort_keys=False))
    routing_path.write_text(yaml.safe_dump(routing, sort_keys=False))
    return ["--config", str(config_path), "--routing", str(routing_path)]


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` laid over `base`, mappings merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def start(
    children: Children,
    workdir: Path,
    upstream: str,
    extra: dict[str, Any] | None,
    with_tenant_key: bool,
) -> Gateway:
    """Starts `python -m gateway serve` on a free loopback port and waits for /health/ready.

    When `serve` offers `--no-migrate`, the schema is migrated first by `gateway migrate`, so
    a migration failure reads as one rather than as a readiness timeout.
    """
    try:
        return _start(children, workdir, upstream, extra, with_tenant_key)
    except StartError as exc:
        raise StartError(
            f"the gateway target cannot start: {exc}\n"
            "(to measure the rest meanwhile: --targets direct,passthrough)"
        ) from exc


def _start(
    children: Children,
    workdir: Path,
    upstream: str,
    extra: dict[str, Any] | None,
    with_tenant_key: bool,
) -> Gateway:
    master_key = "sk-mb-bench-" + secrets.token_hex(16)
    env = child_env({"MODEL_BRIDGE_MASTER_KEY": master_key})
    env.pop("MODEL_BRIDGE_DATABASE_URL", None)  # never a real database by inheritance
    config = write_config(workdir, upstream, extra)
    gateway = [sys.executable, "-m", "gateway"]
    usage = run_captured([*gateway, "serve", "--help"], timeout=60, env=env)
    serve_flags = []
    if "--no-migrate" in usage:
        run_captured([*gateway, "migrate", *config], timeout=180, env=env)
        serve_flags.append("--no-migrate")
    port = free_port()
    serve = [*gateway, "serve", *config, "--host", "127.0.0.1", "--port", str(port)]
    child = children.start("gateway", [*serve, *serve_flags], env=env)
    url = f"http://127.0.0.1:{port}"
    children.wait_http_ok("gateway", f"{url}/health/ready")
    tenant_key = _tenant_key(gateway, config, env) if with_tenant_key else None
    return Gateway(
        url, psutil.Process(child.pid), master_key, tenant_key, embedded_database(workdir)
    )


def _tenant_key(gateway: list[str], config: list[str], env: dict[str, str]) -> str:
    """A tenant's virtual key, so the auth stage is measured as tenants use it."""
    tenant = ["tenants", "create", "bench", "--name", "Bench", "--plan", "enterprise"]
    run_captured([*gateway, *tenant, *config], timeout=120, env=env)
    key = ["keys", "create", "--tenant", "bench", "--name", "bench"]
    out = run_captured([*gateway, *key, *config], timeout=120, env=env)
    return out.strip().splitlines()[-1]


def embedded_database(workdir: Path) -> psutil.Process | None:
    """The embedded PostgreSQL postmaster serving `workdir`, if one is running."""
    folder = workdir / "data" / "postgres"
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        pid = int((folder / "postmaster.pid").read_text().splitlines()[0])
        process = psutil.Process(pid)
        if str(folder) in " ".join(process.cmdline()):
            return process
    return None


def stop_embedded_database(workdir: Path, timeout: float = 15.0) -> None:
    """After the gateway has gone: the database stops with its last user; if it has not,
    a fast shutdown (SIGINT), then SIGKILL, so no PostgreSQL outlives the run."""
    process = embedded_database(workdir)
    if process is None:
        return
    for stop in (None, signal.SIGINT, signal.SIGKILL):
        if stop is not None:
            logger.warning("embedded PostgreSQL (pid %d) still running: %s", process.pid, stop.name)
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _gone(process):
                return
            time.sleep(0.1)


def _gone(process: psutil.Process) -> bool:
    try:
        status: str = process.status()
    except psutil.NoSuchProcess:
        return True
    return bool(status == psutil.STATUS_ZOMBIE)
