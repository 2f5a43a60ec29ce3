"""The documented guarantee: a usage record is durable once its request has finished, even
if the gateway is killed with SIGKILL right after (its journal is replayed by the next)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg
import pytest

ROOT = Path(__file__).parents[2]
KEY = "sk-mb-kill9-master"


def start(
    data_dir: Path, dsn: str, port: int, extra: list[str] | None = None
) -> subprocess.Popen[bytes]:
    config = data_dir.parent / "gateway.yaml"
    config.write_text(
        f"server: {{data_dir: {data_dir}}}\nlogging: {{level: WARNING, access_log: false}}\n"
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            *(extra or []),
        ],
        cwd=ROOT,
        env={**os.environ, "MODEL_BRIDGE_DATABASE_URL": dsn, "MODEL_BRIDGE_MASTER_KEY": KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def ready(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/health/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("gateway did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_records_survive_sigkill_and_are_replayed_once(pg_dsn: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    first = start(data_dir, pg_dsn, port)
    second = None
    try:
        await ready(port)
        ids = []
        async with aiohttp.ClientSession() as session:
            for i in range(40):
                async with session.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    json={"model": "demo", "messages": [{"role": "user", "content": str(i)}]},
                    headers={"Authorization": f"Bearer {KEY}"},
                ) as response:
                    assert response.status == 200
                    ids.append(response.headers["x-request-id"])
        first.send_signal(signal.SIGKILL)  # no flush, no goodbye
        first.wait(timeout=10)
        second = start(data_dir, pg_dsn, port)
        await ready(port)
        conn = await asyncpg.connect(pg_dsn)
        try:
            for _ in range(100):
                found = await conn.fetchval(
                    "SELECT count(*) FROM usage WHERE request_id = ANY($1)", ids
                )
                if found == len(ids):
                    break
                await asyncio.sleep(0.1)
            assert found == len(ids)
            assert await conn.fetchval("SELECT count(*) FROM usage") == len(ids)  # no doubles
            assert await conn.fetchval("SELECT sum(requests) FROM usage_hourly") == len(ids)
        finally:
            await conn.close()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.slow
async def test_sigterm_under_load_loses_no_record(
    pg_dsn: str, tmp_path: Path, start_upstream: object
) -> None:
    from tests.fakes.openai_upstream import FakeOpenAI

    fake = FakeOpenAI(delay_before_headers=0.3)
    upstream = await start_upstream(fake.app())  # type: ignore[operator]
    (tmp_path / "routing.yaml").write_text(
        f"providers: {{up: {{adapter: openai, api_base: '{upstream}/v1'}}}}\n"
        "models: {m: {deployments: [{provider: up, model: m}]}}\n"
    )
    data_dir = tmp_path / "data"
    port = free_port()
    config = ["--routing", str(tmp_path / "routing.yaml")]
    gateway = start(data_dir, pg_dsn, port, config)
    try:
        await ready(port)
        completed: list[str] = []
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> None:
                async with session.post(
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": str(i)}]},
                    headers={"Authorization": f"Bearer {KEY}"},
                ) as response:
                    await response.read()
                    if response.status == 200:
                        completed.append(response.headers["x-request-id"])

            tasks = [asyncio.create_task(one(i)) for i in range(60)]
            await asyncio.sleep(0.15)  # all in flight upstream
            gateway.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)
        assert gateway.wait(timeout=20) == 0
        conn = await asyncpg.connect(pg_dsn)
        try:
            stored = await conn.fetchval(
                "SELECT count(*) FROM usage WHERE request_id = ANY($1)", completed
            )
        finally:
            await conn.close()
        assert len(completed) == 60 and stored == 60
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(timeout=10)
