"""Circuit breakers as clients meet them: what opens one (consecutive failures, an error
rate, not the caller's own mistakes), what an open one is spared (new requests, retries),
the probe after the cool-down, and the early probe when every breaker of a group is open."""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_answers import DEFAULT_REPLY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    FAST_ROUTER,
    StartUpstream,
    breaker_state,
    chat,
    deployment_health,
    group,
    primary_and_spare,
    providers,
    sdk,
    served_by,
)


@pytest.mark.parametrize("probe_ok", [True, False], ids=["probe-succeeds", "probe-fails"])
async def test_the_breaker_opens_skips_probes_once_and_closes_on_success(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, probe_ok: bool
) -> None:
    primary, spare = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare)
    base = await start_gateway(primary_and_spare(fakes))
    primary.enqueue(status=500)
    primary.enqueue(status=500)  # two consecutive failures (attempt and retry): open
    async with sdk(base) as client:
        headers, _ = await chat(client, "m")
        assert served_by(headers) == "m:spare:m"
        primary_health = await deployment_health(base, "m:primary:m")
        assert primary_health["state"] == "open"
        assert (primary_health["recent_errors"], primary_health["recent_requests"]) == (2, 2)
        for _ in range(5):  # open: the cheaper deployment is skipped, nothing reaches it
            headers, _ = await chat(client, "m")
            assert served_by(headers) == "m:spare:m"
            assert headers["x-model-bridge-attempts"] == "1"
        assert len(primary.requests) == 2
        await asyncio.sleep(0.6)  # the cool-down is over: half-open
        primary.enqueue(delay_before_headers=0.3, status=200 if probe_ok else 500)
        burst = await asyncio.gather(*(chat(client, "m") for _ in range(5)))
        # Exactly one request of the burst went to `primary`: the probe. The rest were
        # served by `spare` at the first attempt. A failed probe reopens the breaker, so it
        # is not retried there either.
        probes = [
            h
            for h, _ in burst
            if h["x-model-bridge-attempts"] != "1" or "primary" in h["x-model-bridge-deployment"]
        ]
        assert len(probes) == 1, [dict(h) for h, _ in burst]
        assert len(primary.requests) == 3
        for _ in range(3):
            headers, _ = await chat(client, "m")
            assert served_by(headers) == ("m:primary:m" if probe_ok else "m:spare:m")
    primary_health = await deployment_health(base, "m:primary:m")
    # A successful probe closes the breaker and starts its window afresh.
    assert (
        primary_health["state"],
        primary_health["recent_errors"],
        primary_health["recent_requests"],
    ) == (("closed", 0, 3) if probe_ok else ("open", 3, 3))
    assert len(primary.requests) == 3 + (3 if probe_ok else 0)


@pytest.mark.parametrize(
    ("outcomes", "opens"),
    [
        (["ok", "fail", "ok", "fail"], True),  # half of four: the rate is reached
        (["ok", "ok", "ok", "fail"], False),  # a quarter: under the rate
        (["ok", "fail", "fail"], False),  # two thirds, but fewer than min_requests
        (["fail", "fail", "wait", "ok", "fail"], False),  # the first two left the window
    ],
    ids=["at-the-rate", "under-the-rate", "too-few-requests", "outside-the-window"],
)
async def test_an_error_rate_over_the_window_opens_the_breaker(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    outcomes: list[str],
    opens: bool,
) -> None:
    """Ten consecutive failures would be needed: only the rate can open it here."""
    primary, spare = FakeOpenAI(), FakeOpenAI()
    routing = primary_and_spare(await providers(start_upstream, primary=primary, spare=spare))
    routing["models"]["m"]["retries"] = 0
    routing["router"] = {
        **FAST_ROUTER,
        "breaker": {
            "consecutive_failures": 10,
            "error_rate": 0.5,
            "min_requests": 4,
            "window_seconds": 0.5,
            "cooldown_seconds": 30,
        },
    }
    base = await start_gateway(routing)
    async with sdk(base) as client:
        for outcome in outcomes:
            if outcome == "wait":
                await asyncio.sleep(0.6)
                continue
            primary.enqueue(status=200 if outcome == "ok" else 500)
            headers, _ = await chat(client, "m")  # a failure is served by `spare`
        seen = len(primary.requests)
        headers, _ = await chat(client, "m")
    assert await breaker_state(base, "m:primary:m") == ("open" if opens else "closed")
    assert served_by(headers) == ("m:spare:m" if opens else "m:primary:m")
    assert len(primary.requests) == seen + (0 if opens else 1)


@pytest.mark.parametrize(
    ("status", "opens"),
    [(400, False), (404, False), (422, False), (401, True), (403, True)],
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
async def test_only_errors_of_the_deployment_count_against_it(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, status: int, opens: bool
) -> None:
    """A caller's malformed request says nothing of the deployment's health; a rejected
    provider key or a forbidden model does."""
    primary, spare = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare)
    base = await start_gateway(primary_and_spare(fakes))  # opens after 2 failures
    async with sdk(base) as client:
        for _ in range(2):
            primary.enqueue(status=status)
            with pytest.raises(openai.APIStatusError) as raised:
                await chat(client, "m")
            assert raised.value.status_code == status
        state = await breaker_state(base, "m:primary:m")
        headers, _ = await chat(client, "m")
    assert state == ("open" if opens else "closed")
    assert served_by(headers) == ("m:spare:m" if opens else "m:primary:m")


async def test_a_retry_skips_a_deployment_whose_breaker_opened_meanwhile(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    """A waits out a Retry-After on `primary`; meanwhile B's failure there opens the breaker.
    Neither retries `primary`: both move on to `spare`."""
    primary, spare = FakeOpenAI(), FakeOpenAI()
    routing = primary_and_spare(await providers(start_upstream, primary=primary, spare=spare))
    # Open after 2 failures, and still open when A's wait is over.
    routing["router"] = {
        **FAST_ROUTER,
        "breaker": {"consecutive_failures": 2, "cooldown_seconds": 30},
    }
    base = await start_gateway(routing)
    primary.enqueue(status=503, retry_after=1)
    async with sdk(base) as client:
        waiting = asyncio.create_task(chat(client, "m"))
        while not primary.requests:
            await asyncio.sleep(0.01)
        primary.enqueue(status=500)
        b_headers, _ = await chat(client, "m")
        a_headers, _ = await waiting
    for headers in (a_headers, b_headers):
        assert (served_by(headers), headers["x-model-bridge-attempts"]) == ("m:spare:m", "2")
    assert len(primary.requests) == 2 and len(spare.requests) == 2


async def test_when_every_breaker_is_open_one_is_probed_and_its_success_closes_it(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    first, second = FakeOpenAI(status=503), FakeOpenAI(status=503)
    routing = {
        "providers": await providers(start_upstream, first=first, second=second),
        "models": {"m": group("first", "second", retries=1)},
        "router": {**FAST_ROUTER, "breaker": {"consecutive_failures": 2, "cooldown_seconds": 30}},
    }
    base = await start_gateway(routing)
    ids = {name: f"m:{name}:m" for name in ("first", "second")}
    async with sdk(base) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await chat(client, "m")
        assert raised.value.status_code == 503
        assert [await breaker_state(base, i) for i in ids.values()] == ["open", "open"]
        # The error names the last deployment tried; the other one opened first.
        last_tried = raised.value.response.headers["x-model-bridge-deployment"]
        first.status = second.status = 200  # both recovered, both still open for 30 s
        before = len(first.requests) + len(second.requests)
        headers, reply = await chat(client, "m")
        probed = served_by(headers)
        assert reply.choices[0].message.content == DEFAULT_REPLY
        assert len(first.requests) + len(second.requests) == before + 1
        assert probed != last_tried  # the one that opened first is the one probed
        states = {i: await breaker_state(base, i) for i in ids.values()}
        assert states == {probed: "closed", last_tried: "open"}
        for _ in range(3):  # closed, so it serves as usual; the other stays skipped
            headers, _ = await chat(client, "m")
            assert served_by(headers) == probed
    assert len(first.requests) + len(second.requests) == before + 4
