"""Hot reload of routing.yaml: under load nothing fails and changes take effect (file
watcher, admin API, SIGHUP); an invalid or half-written file is rejected, reported and
counted, and the old routing goes on serving; breaker settings follow a reload."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    StartUpstream,
    admin,
    deployment_health,
    group,
    metric,
    post_chat,
    price,
    primary_and_spare,
    providers,
    served_by,
)

REJECTED = 'model_bridge_routing_reloads_total{result="rejected"}'
APPLIED = 'model_bridge_routing_reloads_total{result="applied"}'


def write(path: Path, routing: dict[str, Any] | str) -> None:
    """Atomically, as the README asks: a new file renamed over the old, so the watcher never
    reads half of one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(routing if isinstance(routing, str) else yaml.safe_dump(routing))
    os.replace(tmp, path)


async def last_reload_after(session: aiohttp.ClientSession, base: str, since: float) -> Any:
    """The first reload report newer than `since` (the watcher polls once a second)."""
    for _ in range(50):
        _, state = await admin(session, base, "GET", "/routing")
        if state["last_reload"]["at"] > since:
            return state["last_reload"]
        await asyncio.sleep(0.1)
    raise AssertionError("the watcher never reloaded")


async def wait_for_model(session: aiohttp.ClientSession, base: str, model: str) -> float:
    """Seconds until the watcher made `model` routable (it polls once a second)."""
    started = time.monotonic()
    while time.monotonic() - started < 5:
        status, _ = await admin(session, base, "GET", "/routing")
        assert status == 200
        status, _, _ = await post_chat(session, base, model)
        if status == 200:
            return time.monotonic() - started
        assert status == 404
        await asyncio.sleep(0.1)
    raise AssertionError(f"{model} never became reachable")


@pytest.mark.slow
async def test_reloads_under_load_fail_nothing_and_take_effect(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, tmp_path: Path
) -> None:
    a, b, c = FakeOpenAI(), FakeOpenAI(), FakeOpenAI()
    rows = await providers(start_upstream, a=a, b=b, c=c)
    routing: dict[str, Any] = {
        "providers": {"a": rows["a"], "b": rows["b"]},
        "models": {"m": group("a", "b")},
    }
    path = tmp_path / "routing.yaml"
    write(path, routing)
    base = await start_gateway(routing, routing_path=path)

    versions = [
        # weights, through the admin API
        {**routing, "models": {"m": group("a", "b", a={"weight": 5})}},
        # a new model, noticed by the watcher alone
        {**routing, "models": {"m": group("a", "b"), "new1": group("a")}},
        # a new provider and a model on it, through the admin API
        {
            "providers": rows,
            "models": {"m": group("a", "b"), "new1": group("a"), "new2": group("c")},
        },
        # the last word: `m` all but entirely on `b`, and a strategy change
        {
            "providers": rows,
            "models": {
                "m": group("a", "b", strategy="lowest-cost", a=price(2.0), b=price(1.0)),
                "new1": group("a"),
                "new2": group("c"),
                "new3": group("c"),
            },
        },
    ]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=40)) as session:
        rewritten = asyncio.Event()
        results: list[tuple[int, dict[str, str], bytes]] = []
        done_when_rewritten: list[int] = []

        async def rewrite() -> list[Any]:
            reports = []
            for i, version in enumerate(versions):
                await asyncio.sleep(0.3)
                write(path, version)
                if i % 2 == 0:
                    reports.append(await admin(session, base, "POST", "/routing/reload"))
                else:
                    reports.append(await wait_for_model(session, base, f"new{i}"))
                done_when_rewritten.append(len(results))
            rewritten.set()
            return reports

        async def worker(number: int) -> None:
            """Sends until at least 1 000 requests are done and every rewrite is in."""
            while len(results) < 1000 or not rewritten.is_set():
                stream = (len(results) + number) % 5 == 0
                results.append(await post_chat(session, base, "m", stream=stream))

        _, reports = await asyncio.gather(
            asyncio.gather(*(worker(n) for n in range(20))), rewrite()
        )
        # Every rewrite landed while requests were flowing, and requests went on after.
        assert len(results) >= 1000
        assert done_when_rewritten[0] > 0 and done_when_rewritten[-1] < len(results)
        failures = [(s, body[:200]) for s, _, body in results if s != 200]
        assert failures == []
        streams = [
            body for _, headers, body in results if "event-stream" in headers["Content-Type"]
        ]
        assert len(streams) > 100
        assert all(body.endswith(b"data: [DONE]\n\n") for body in streams)
        assert reports[0] == (200, {"ok": True, "error": None})
        assert reports[2] == (200, {"ok": True, "error": None})

        for model, deployment in (("new1", "new1:a:m"), ("new2", "new2:c:m"), ("new3", "new3:c:m")):
            status, headers, _ = await post_chat(session, base, model)
            assert (status, served_by(headers)) == (200, deployment)
        before = len(b.requests)
        for _ in range(10):  # the last version's strategy and prices are in force
            status, headers, _ = await post_chat(session, base, "m")
            assert (status, served_by(headers)) == (200, "m:b:m")
        assert len(b.requests) == before + 10
        status, state = await admin(session, base, "GET", "/routing")
        assert state["last_reload"]["ok"] is True
        assert {m["name"]: m["strategy"] for m in state["models"]}["m"] == "lowest-cost"
        assert await metric(session, base, APPLIED) >= 4
        assert await metric(session, base, REJECTED) == 0
    assert len(c.requests) >= 2  # the provider added by the reload got a working session


@pytest.mark.parametrize(
    ("content", "mentions"),
    [
        ("providers: {a: {adapter: nope}}\nmodels: {}\n", "unknown adapter"),
        ("providers: [unclosed\n", "routing"),
        (None, "fallbacks"),
        (None, "unknwon_key"),
        ("", "routing"),
    ],
    ids=["unknown-adapter", "yaml-syntax", "dangling-fallback", "unknown-key", "empty-file"],
)
async def test_an_invalid_file_is_rejected_and_the_old_routing_serves(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    tmp_path: Path,
    content: str | None,
    mentions: str,
) -> None:
    fake = FakeOpenAI()
    routing: dict[str, Any] = {
        "providers": await providers(start_upstream, a=fake),
        "models": {"m": group("a")},
    }
    path = tmp_path / "routing.yaml"
    write(path, routing)
    base = await start_gateway(routing, routing_path=path)
    if content is None and mentions == "fallbacks":
        broken: dict[str, Any] | str = {
            **routing,
            "models": {"m": group("a", fallbacks=["missing"]), "new": group("a")},
        }
    elif content is None:
        broken = {**routing, "models": {"m": group("a"), "new": group("a", unknwon_key=1)}}
    else:
        broken = content
    async with aiohttp.ClientSession() as session:
        rejected_before = await metric(session, base, REJECTED)
        write(path, broken)
        status, report = await admin(session, base, "POST", "/routing/reload")
        assert status == 400 and report["ok"] is False
        assert mentions in report["error"], report["error"]
        status, state = await admin(session, base, "GET", "/routing")
        assert status == 200
        assert state["last_reload"]["ok"] is False
        assert state["last_reload"]["error"] == report["error"]
        assert [m["name"] for m in state["models"]] == ["m"]
        for _ in range(3):  # the previous routing keeps serving
            status, headers, _ = await post_chat(session, base, "m")
            assert (status, served_by(headers)) == (200, "m:a:m")
        if "new" in str(broken):
            assert (await post_chat(session, base, "new"))[0] == 404
        assert await metric(session, base, REJECTED) >= rejected_before + 1

        write(path, {**routing, "models": {"m": group("a"), "fixed": group("a")}})
        status, report = await admin(session, base, "POST", "/routing/reload")
        assert (status, report) == (200, {"ok": True, "error": None})
        status, state = await admin(session, base, "GET", "/routing")
        assert state["last_reload"]["ok"] is True and state["last_reload"]["error"] is None
        assert (await post_chat(session, base, "fixed"))[0] == 200


async def test_sighup_reloads_the_routing_file(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, tmp_path: Path
) -> None:
    fake = FakeOpenAI()
    routing = {"providers": await providers(start_upstream, a=fake), "models": {"m": group("a")}}
    path = tmp_path / "routing.yaml"
    write(path, routing)
    base = await start_gateway(routing, routing_path=path)
    write(path, {**routing, "models": {"m": group("a"), "n": group("a")}})
    os.kill(os.getpid(), signal.SIGHUP)  # the app handles it on this loop, in this process
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # well inside the file watcher's one-second poll
            await asyncio.sleep(0.02)
            if (await post_chat(session, base, "n"))[0] == 200:
                break
        assert (await post_chat(session, base, "n"))[0] == 200


COMPLETE = """providers:
  a: {adapter: openai, api_base: "URL"}
models:
  m: {deployments: [{provider: a, model: m}]}
  new: {description: "Zürich", deployments: [{provider: a, model: m}]}
"""


@pytest.mark.parametrize(
    ("first", "mentions"),
    [
        (COMPLETE.replace("  a: ", "  b: ").encode(), "unknown provider"),
        (COMPLETE.encode()[:-4], "not valid YAML"),
        (COMPLETE.encode()[: COMPLETE.encode().index("ü".encode()) + 1], "not valid UTF-8"),
    ],
    ids=["invalid", "cut-mid-structure", "cut-mid-character"],
)
async def test_the_watcher_rejects_a_bad_file_and_applies_the_good_one_after(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    tmp_path: Path,
    first: bytes,
    mentions: str,
) -> None:
    """What the watcher may read when a file is written in place (not as the README asks):
    half of it. The old routing serves until the whole file is there."""
    rows = await providers(start_upstream, a=FakeOpenAI())
    routing = {"providers": rows, "models": {"m": group("a")}}
    path = tmp_path / "routing.yaml"
    write(path, routing)
    base = await start_gateway(routing, routing_path=path)
    url = rows["a"]["api_base"]
    async with aiohttp.ClientSession() as session:
        since = time.time()
        path.write_bytes(first.replace(b"URL", url.encode()))
        report = await last_reload_after(session, base, since)
        assert report["ok"] is False and mentions in report["error"], report
        assert await metric(session, base, REJECTED) == 1
        assert (await post_chat(session, base, "m"))[0] == 200
        assert (await post_chat(session, base, "new"))[0] == 404
        path.write_text(COMPLETE.replace("URL", url))
        await wait_for_model(session, base, "new")
        assert (await post_chat(session, base, "m"))[0] == 200


async def test_the_watcher_sees_a_rewrite_within_one_clock_tick(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, tmp_path: Path
) -> None:
    """File times come from a coarse clock: two writes a few milliseconds apart can carry
    the same modification time. The stamp is forced equal here."""
    fake = FakeOpenAI()
    routing = {"providers": await providers(start_upstream, a=fake), "models": {"m": group("a")}}
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(routing))
    stamp = path.stat().st_mtime_ns
    base = await start_gateway(routing, routing_path=path)
    await asyncio.sleep(0.2)  # the watcher has taken the file's signature
    path.write_text(yaml.safe_dump({**routing, "models": {"m": group("a"), "n": group("a")}}))
    os.utime(path, ns=(stamp, stamp))
    async with aiohttp.ClientSession() as session:
        await wait_for_model(session, base, "n")


async def test_a_reload_without_a_routing_file_is_refused(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fake = FakeOpenAI()
    routing = {"providers": await providers(start_upstream, a=fake), "models": {"m": group("a")}}
    base = await start_gateway(routing)
    async with aiohttp.ClientSession() as session:
        status, report = await admin(session, base, "POST", "/routing/reload")
        assert status == 400 and "no routing file" in report["error"]
        async with session.post(
            base.removesuffix("/v1") + "/admin/api/routing/reload",
            headers={"Authorization": "Bearer sk-wrong"},
        ) as response:
            assert response.status == 401
        assert (await post_chat(session, base, "m"))[0] == 200


async def test_a_reload_applies_new_breaker_settings(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, tmp_path: Path
) -> None:
    primary, spare = FakeOpenAI(), FakeOpenAI()
    rows = await providers(start_upstream, primary=primary, spare=spare)

    def routing(failures: int) -> dict[str, Any]:
        model = group(
            "primary", "spare", strategy="lowest-cost", retries=0, primary=price(1), spare=price(2)
        )
        breaker = {"consecutive_failures": failures, "cooldown_seconds": 30}
        return {"providers": rows, "models": {"m": model}, "router": {"breaker": breaker}}

    path = tmp_path / "routing.yaml"
    write(path, routing(100))
    base = await start_gateway(routing(100), routing_path=path)
    write(path, routing(1))
    async with aiohttp.ClientSession() as session:
        status, _ = await admin(session, base, "POST", "/routing/reload")
        assert status == 200
        primary.enqueue(status=500)
        status, headers, _ = await post_chat(session, base, "m")
        assert (status, served_by(headers)) == (200, "m:spare:m")
        status, headers, _ = await post_chat(session, base, "m")  # one failure opened it
    assert (status, served_by(headers), len(primary.requests)) == (200, "m:spare:m", 1)


async def test_the_routing_state_gives_prices_as_exact_decimals(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    fakes = await providers(start_upstream, primary=FakeOpenAI(), spare=FakeOpenAI())
    base = await start_gateway(primary_and_spare(fakes))
    spare = await deployment_health(base, "m:spare:m")
    assert spare["price"] == {"input": "2.0", "output": "2.0", "cached_input": None}
