"""The benchmark's child processes: started on loopback, logged to files, always stopped.

Each server gets a session of its own, so a Ctrl-C reaches only the benchmark, which then
stops the servers in order (the gateway first, so it can drain and stop its database). On
Linux each child is also told to receive SIGTERM when the benchmark dies, even by SIGKILL,
so no server outlives a run that was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
# No proxy handler at all: urllib would otherwise honour *_proxy variables, even for loopback.
_LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class StartError(Exception):
    """A target did not come up, or went down; the message says why and shows the end of
    its stderr."""


def _parent_death_signal() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return arm


_DIE_WITH_PARENT = _parent_death_signal()


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without proxy settings (everything here talks to 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    return {**env, **(extra or {})}


def run_captured(argv: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a short-lived child to completion; its stdout, or StartError with its stderr."""
    try:
        done = subprocess.run(
            list(argv),
            cwd=ROOT,
            env=env if env is not None else child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_DIE_WITH_PARENT,  # safe: no threads run here
        )
    except subprocess.TimeoutExpired as exc:
        raise StartError(f"`{' '.join(argv)}` took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise StartError(
            f"`{' '.join(argv)}` exited with {done.returncode}:\n{_last_lines(done.stderr)}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Children:
    """Long-running servers of one benchmark run; a context manager that stops them all."""

    def __init__(self, logdir: Path) -> None:
        self._logdir = logdir
        self._logdir.mkdir(parents=True, exist_ok=True)
        self._started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop_all()

    def start(
        self, name: str, command: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Runs `command` from the repository root, its stderr to `<logdir>/<name>.log`."""
        log = (self._logdir / f"{name}.log").open("wb")
        child = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env if env is not None else child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            preexec_fn=_DIE_WITH_PARENT,  # safe: no threads run here
        )
        self._started.append((name, child, log))
        logger.info("started %s (pid %d)", name, child.pid)
        return child

    def stderr_tail(self, name: str) -> str:
        path = self._logdir / f"{name}.log"
        return _last_lines(path.read_text(errors="replace")) if path.exists() else ""

    def wait_port(self, name: str, port: int, timeout: float = 20.0) -> None:
        """Until `127.0.0.1:port` accepts connections; StartError if the child dies first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.1)
        raise StartError(f"{name}: port {port} did not open in {timeout:.0f}s")

    def wait_http_ok(self, name: str, url: str, timeout: float = 90.0) -> None:
        """Until `GET url` answers 200; StartError if the child dies first or time runs out."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                with _LOOPBACK_OPENER.open(url, timeout=2) as response:
                    if response.status == 200:
                        return
                    last = f"status {response.status}"
            except urllib.error.HTTPError as exc:
                last = f"status {exc.code}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise StartError(
            f"{name}: {url} not ready after {timeout:.0f}s ({last})\n{self.stderr_tail(name)}"
        )

    def check_running(self) -> None:
        """StartError if any server has exited: the numbers after that would mean nothing."""
        for name, _, _ in self._started:
            self._check_alive(name)

    def _check_alive(self, name: str) -> None:
        for started, child, _ in self._started:
            if started == name and child.poll() is not None:
                raise StartError(
                    f"{name} exited with {child.returncode}; end of its stderr:\n"
                    + self.stderr_tail(name)
                )

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM to each, the last started first; SIGKILL to whatever outlives `timeout`."""
        for name, child, _ in reversed(self._started):
            if child.poll() is None:
                logger.info("stopping %s (pid %d)", name, child.pid)
                child.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=timeout)
            if child.poll() is None:
                logger.warning("%s did not stop in %.0fs: killing its process group", name, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        for _, _, log in self._started:
            log.close()
        self._started.clear()


def _last_lines(text: str, lines: int = 30) -> str:
    tail = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "    (nothing on stderr)"
