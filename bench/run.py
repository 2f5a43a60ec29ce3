"""One command: direct upstream vs bare pass-through vs the gateway, interleaved, one report.

    python bench/run.py [--requests 3000] [--concurrency 32] [--seconds 30] [--rounds 3]
                        [--targets direct,passthrough,gateway,gateway+key]
                        [--scenarios plain,stream,paced,cached] [--redis]
                        [--gateway-config-extra FILE]

Starts every server on 127.0.0.1 (the fake upstream, the pass-through, the gateway with an
embedded database in a temporary folder), then for each scenario warms every target up and
runs them round-robin, the order rotating every round, so machine noise hits them alike.
Prints the table and the ratios; writes everything to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import gateway_target
import psutil
import redis_store
import report
import yaml
from measure import Load, Target, measure
from processes import ROOT, Children, StartError, free_port

logger = logging.getLogger("bench")

TARGETS = ("direct", "passthrough", "gateway", "gateway+key")


def _body(model: str, stream: bool = False, paced: bool = False) -> str:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    if stream:
        body["stream"] = True
    if paced:  # passed through untouched: tells the fake upstream to space the events out
        body["metadata"] = {"bench": "paced"}
    return json.dumps(body, separators=(",", ":"))


# `cached`: the gateway answers from its response cache; the references still go upstream,
# which is the comparison a cache hit is for.
SCENARIOS = {
    "plain": _body(gateway_target.MODEL),
    "stream": _body(gateway_target.MODEL, stream=True),
    "paced": _body(gateway_target.MODEL, stream=True, paced=True),
    "cached": _body(gateway_target.CACHED_MODEL),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="per run (default 3000)")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight (default 32)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per run at most (30)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument("--warmup", type=int, default=300, help="uncounted requests (300)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument(
        "--redis",
        action="store_true",
        help="limits and cache in Redis, as several gateway processes would run",
    )
    parser.add_argument(
        "--gateway-config-extra",
        type=Path,
        metavar="FILE",
        help="YAML merged into the gateway.yaml the benchmark writes",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    args.targets = _choose(parser, "--targets", args.targets, TARGETS)
    args.scenarios = _choose(parser, "--scenarios", args.scenarios, tuple(SCENARIOS))
    if not _has_gateway(args):
        args.scenarios = [s for s in args.scenarios if s != "cached"]  # only a gateway caches
        if not args.scenarios:
            parser.error("the cached scenario needs a gateway target")
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return args


def _choose(
    parser: argparse.ArgumentParser, flag: str, value: str, known: tuple[str, ...]
) -> list[str]:
    chosen = [name for name in value.split(",") if name]
    unknown = sorted(set(chosen) - set(known))
    if unknown or not chosen:
        parser.error(f"{flag}: choose from {', '.join(known)} (got {value!r})")
    return [name for name in known if name in chosen]  # canonical order


def _has_gateway(args: argparse.Namespace) -> bool:
    return any(name.startswith("gateway") for name in args.targets)


def start_targets(children: Children, workdir: Path, args: argparse.Namespace) -> list[Target]:
    """Starts what the chosen targets need; the upstream always (everything ends there)."""
    python = sys.executable
    up_port = free_port()
    children.start("upstream", [python, "bench/upstream.py", "--port", str(up_port)])
    children.wait_port("upstream", up_port)
    upstream = f"http://127.0.0.1:{up_port}"
    targets = {"direct": Target("direct", upstream)}
    if "passthrough" in args.targets:
        port = free_port()
        command = [python, "bench/passthrough.py", "--port", str(port), "--upstream", upstream]
        child = children.start("passthrough", command)
        children.wait_port("passthrough", port)
        server = psutil.Process(child.pid)
        targets["passthrough"] = Target("passthrough", f"http://127.0.0.1:{port}", None, server)
    if _has_gateway(args):
        extra = _extra_config(args.gateway_config_extra)
        stores: list[psutil.Process] = []
        if args.redis:
            url, redis = redis_store.start(children, workdir)
            extra = gateway_target.merge(redis_store.gateway_settings(url), extra or {})
            stores.append(redis)
        gw = gateway_target.start(
            children, workdir, upstream, extra, with_tenant_key="gateway+key" in args.targets
        )
        if gw.database is not None:
            stores.append(gw.database)
        else:
            logger.info("no embedded database found: its CPU is not in the DB column")
        for name, key in (("gateway", gw.master_key), ("gateway+key", gw.tenant_key)):
            targets[name] = Target(name, gw.url, key, gw.process, tuple(stores))
    return [targets[name] for name in args.targets]


def _extra_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    extra = yaml.safe_load(path.read_text())
    if not isinstance(extra, dict):
        raise StartError(f"{path}: expected a YAML mapping")
    return extra


def interleave(children: Children, targets: list[Target], args: argparse.Namespace) -> report.Runs:
    """Per scenario: a warm-up run per target (not counted), then `rounds` rounds in which
    every target runs once, the starting target rotating so none always goes first. Stops
    at the first server that has exited."""
    load = Load(args.requests, args.concurrency, args.seconds)
    warmup = Load(args.warmup, args.concurrency, args.seconds)
    runs: report.Runs = {}
    for scenario in args.scenarios:
        body = SCENARIOS[scenario]
        if args.warmup > 0:
            for target in targets:
                measure(target, body, warmup)
                children.check_running()
        for round_ in range(args.rounds):
            shift = round_ % len(targets)
            for target in targets[shift:] + targets[:shift]:
                result = measure(target, body, load)
                children.check_running()
                runs.setdefault(scenario, {}).setdefault(target.name, []).append(result)
                logger.info(
                    "%s round %d/%d %-12s %7.0f req/s, %d errors",
                    scenario,
                    round_ + 1,
                    args.rounds,
                    target.name,
                    result["rps"],
                    result["errors"],
                )
    # Rows in target order whatever order the last round ran in.
    return {s: {t.name: per[t.name] for t in targets} for s, per in runs.items()}


def _meta(args: argparse.Namespace, started: float) -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "commit": commit or None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "targets": args.targets,
        "scenarios": args.scenarios,
        "redis": args.redis,
        "gateway_config_extra": str(args.gateway_config_extra or "") or None,
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    logger.warning("%s: stopping the servers", signal.Signals(signum).name)
    raise SystemExit(128 + signum)  # unwinds through the `with` blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    started = time.time()
    with (
        tempfile.TemporaryDirectory(prefix="mb-bench-", ignore_cleanup_errors=True) as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        # Registered first so it runs last: after the gateway, its last user, has stopped.
        stack.callback(gateway_target.stop_embedded_database, workdir)
        children = stack.enter_context(Children(workdir / "logs"))
        try:
            targets = start_targets(children, workdir, args)
            runs = interleave(children, targets, args)
        except StartError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    summary = report.summarize(runs)
    report.print_report(summary, report.ratios(summary))
    report.write_json(args.out, _meta(args, started), summary, runs)
    logger.info("results written to %s", args.out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are stopped by now
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
