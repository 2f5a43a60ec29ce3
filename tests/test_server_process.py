"""The real `gateway serve` command in a subprocess: graceful drain on SIGTERM, a supervisor
with two workers sharing the port, and the master key generated and shown once.

The fake provider runs on this test's event loop, so the test never blocks it: processes
are polled with short sleeps, never waited on. Whatever a test started is killed in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
import yaml
from aiohttp import web

from tests.conftest import routing_for
from tests.fakes.openai_answers import DEFAULT_REPLY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.schemas.validation import assert_valid_stream

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PROVIDER_KEY = "sk-provider-secret"
MASTER_KEY = "sk-mb-process-test-master-key"
GRACE_SECONDS = 10
CHAT = [{"role": "user", "content": "Stream slowly"}]
# Role, four words, finish and usage: seven chunks 0.3 s apart, a stream lasts about 2 s.
CHUNK_DELAY = 0.3

StartUpstream = Callable[[web.Application], Awaitable[str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """One `gateway serve` process and where its output went."""

    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    async def ready(self, timeout: float = 30) -> None:
        """Polls `/health/ready`; fails with the process's output if it dies or is slow."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"gateway exited with {self.process.returncode}:\n{self.output()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/health/ready") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)
        pytest.fail(f"gateway not ready within {timeout} s:\n{self.output()}")

    async def exit_code(self, timeout: float) -> int:
        """Polls until the process exits (without blocking the loop the fake runs on)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"gateway still running {timeout} s later:\n{self.output()}")
            await asyncio.sleep(0.05)
        return self.process.returncode

    async def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert await self.exit_code(GRACE_SECONDS) == 0, self.output()


Launch = Callable[..., Awaitable[Served]]


@pytest.fixture
async def launch(tmp_path: Path, pg_dsn: str) -> AsyncIterator[Launch]:
    """Starts `gateway serve` on a free port with this test's database, in the repo root.
    `master_key=None` leaves the key to the gateway (generated on first start)."""
    started: list[Served] = []
    data_dir = tmp_path / "data"
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"data_dir": str(data_dir), "grace_period_seconds": GRACE_SECONDS},
                "logging": {"level": "WARNING"},
            }
        )
    )

    async def start(
        routing: Mapping[str, Any], *args: str, master_key: str | None = MASTER_KEY
    ) -> Served:
        routing_file = tmp_path / "routing.yaml"
        routing_file.write_text(yaml.safe_dump(dict(routing)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_BRIDGE_")}
        env["MODEL_BRIDGE_DATABASE_URL"] = pg_dsn
        if master_key is not None:
            env["MODEL_BRIDGE_MASTER_KEY"] = master_key
        port = free_port()
        n = len(started)
        stdout, stderr = tmp_path / f"stdout{n}.txt", tmp_path / f"stderr{n}.txt"
        command = [
            sys.executable,
            *("-m", "gateway", "serve", "--config", str(config), "--routing", str(routing_file)),
            *("--port", str(port), *args),
        ]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=err)
        served = Served(process, port, stdout, stderr)
        started.append(served)
        return served

    try:
        yield start
    finally:
        for served in started:
            _kill_tree(served.process)


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """The process and any worker it started, by pid."""
    if process.poll() is not None:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    process.kill()
    process.wait(timeout=10)


@pytest.fixture
async def slow_upstream(start_upstream: StartUpstream) -> dict[str, Any]:
    """A routing file whose `gpt-4o-mini` streams take about two seconds."""
    fake = FakeOpenAI(api_key=PROVIDER_KEY, delay_between_chunks=CHUNK_DELAY)
    return routing_for(await start_upstream(fake.app()) + "/v1")


class Streams:
    """Many streams at once; `all_started` is set when each has its first chunk."""

    def __init__(self, url: str, count: int) -> None:
        self.url, self.count = url, count
        self.started = 0
        self.all_started = asyncio.Event()

    async def run(self) -> list[list[str]]:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await asyncio.gather(*(self._one(session) for _ in range(self.count)))

    async def _one(self, session: aiohttp.ClientSession) -> list[str]:
        body = {"model": "gpt-4o-mini", "messages": CHAT, "stream": True}
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        events = []
        async with session.post(self.url + "/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            async for line in r.content:
                if line.startswith(b"data: "):
                    events.append(line.removeprefix(b"data: ").decode().strip())
                    if len(events) == 1:
                        self.started += 1
                        if self.started == self.count:
                            self.all_started.set()
        return events


async def until_all_started(streams: Streams, running: asyncio.Future[Any]) -> None:
    """Waits until every stream has its first chunk; fails at once if one of them fails."""
    started = asyncio.ensure_future(streams.all_started.wait())
    done, _ = await asyncio.wait(
        {started, running}, timeout=15, return_when=asyncio.FIRST_COMPLETED
    )
    if started in done:
        return
    started.cancel()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running  # a stream's own failure surfaces here
    pytest.fail(f"only {streams.started} of {streams.count} streams started")


def assert_complete(events: list[str]) -> None:
    """A whole stream: valid chunks with the full reply, then `[DONE]`."""
    assert events[-1] == "[DONE]", events[-3:]
    chunks = [json.loads(event) for event in events[:-1]]
    assert_valid_stream(chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == DEFAULT_REPLY


async def refuses_connections(port: int, within: float) -> bool:
    """Whether new TCP connections to the port are refused within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except (ConnectionRefusedError, ConnectionResetError):  # reset: caught in the close
            return True
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
    return False


async def test_sigterm_drains_streams_in_flight(launch: Launch, slow_upstream: Any) -> None:
    served = await launch(slow_upstream)
    await served.ready()
    streams = Streams(served.url, 20)
    running = asyncio.ensure_future(streams.run())
    await until_all_started(streams, running)
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)

    assert await refuses_connections(served.port, within=1.0), "still accepting after SIGTERM"
    assert not running.done(), "the streams ended before the listener closed"
    results = await running
    assert len(results) == 20
    for events in results:
        assert_complete(events)
    assert await served.exit_code(GRACE_SECONDS) == 0, served.output()
    assert time.monotonic() - signalled < GRACE_SECONDS


async def test_the_start_up_heap_is_exempt_from_garbage_collection(
    launch: Launch, slow_upstream: Any
) -> None:
    served = await launch(slow_upstream)
    await served.ready()
    async with aiohttp.ClientSession() as session, session.get(served.url + "/metrics") as got:
        exposition = await got.text()
    name = "model_bridge_gc_frozen_objects"
    [line] = [row for row in exposition.splitlines() if row.startswith(name)]
    assert float(line.split()[-1]) > 10_000  # modules, config, pools: the whole start-up
    await served.terminate()


def _listening(process: psutil.Process, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr.port == port
        for c in process.net_connections(kind="tcp")
    )


def _clients(process: psutil.Process, port: int) -> int:
    """Established connections a client opened to the port, in this process."""
    return sum(
        1
        for c in process.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


async def test_two_workers_share_the_port_and_stop_together(
    launch: Launch, slow_upstream: Any
) -> None:
    served = await launch(slow_upstream, "--workers", "2")
    await served.ready()
    supervisor = psutil.Process(served.process.pid)
    deadline = time.monotonic() + 20
    while True:
        workers = supervisor.children()
        if len(workers) == 2 and all(_listening(w, served.port) for w in workers):
            break
        assert time.monotonic() < deadline, f"workers: {workers}\n{served.output()}"
        await asyncio.sleep(0.1)
    assert not _listening(supervisor, served.port)  # the supervisor only supervises
    assert all("--as-worker" in w.cmdline() for w in workers)

    streams = Streams(served.url, 50)
    running = asyncio.ensure_future(streams.run())
    await until_all_started(streams, running)
    # All 50 are open now; the kernel spread them over both workers.
    served_by = [_clients(worker, served.port) for worker in workers]
    results = await running
    assert sum(served_by) >= 50 and min(served_by) > 0, served_by
    for events in results:
        assert_complete(events)

    pids = [worker.pid for worker in workers]
    await served.terminate()
    assert not any(psutil.pid_exists(pid) for pid in pids), "a worker outlived the supervisor"


async def test_master_key_is_generated_once_and_kept(
    launch: Launch, slow_upstream: Any, tmp_path: Path
) -> None:
    key_file = tmp_path / "data" / "master_key"

    first = await launch(slow_upstream, master_key=None)
    await first.ready()
    key = key_file.read_text().strip()
    assert key.startswith("sk-mb-")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert await models_status(first.url, key) == 200
    assert await models_status(first.url, key + "x") == 401
    await first.terminate()
    printed = first.stdout.read_text()
    assert printed.count(key) == 1, printed
    assert key not in first.stderr.read_text()

    second = await launch(slow_upstream, master_key=None)
    await second.ready()
    assert await models_status(second.url, key) == 200
    await second.terminate()
    assert key not in second.output()
    assert "master key" not in second.output().lower()
    assert key_file.read_text().strip() == key


async def models_status(url: str, key: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/v1/models", headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        return response.status
