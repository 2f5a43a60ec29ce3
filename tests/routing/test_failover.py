"""Failover: retries, Retry-After, what is never retried, timeouts (the model's own among
them), unreachable providers, fallback groups, context-window fallbacks, the overall deadline
and streams that break after their first byte. Small timings throughout, so it runs in
seconds. Circuit breakers are in `test_breaker`."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_answers import DEFAULT_REPLY, openai_error
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    FAST_ROUTER,
    StartUpstream,
    chat,
    chat_stream,
    group,
    post_chat,
    primary_and_spare,
    providers,
    sdk,
    served_by,
    status_of,
    streamed_text,
    unreachable_provider,
)


@pytest.mark.parametrize("status", [500, 502, 503, 429], ids=lambda s: f"upstream-{s}")
async def test_a_retryable_error_is_retried_once_on_the_same_deployment(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, status: int
) -> None:
    primary, spare = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare)
    base = await start_gateway(primary_and_spare(fakes))
    primary.enqueue(status=status)
    async with sdk(base) as client:
        headers, reply = await chat(client, "m")
    assert served_by(headers) == "m:primary:m"
    assert headers["x-model-bridge-attempts"] == "2"
    assert reply.choices[0].message.content == DEFAULT_REPLY
    assert (len(primary.requests), spare.requests) == (2, [])


@pytest.mark.parametrize(
    ("status", "retry_after", "cap", "at_least", "below"),
    [(429, 1, 10, 0.95, 2.5), (503, 1, 10, 0.95, 2.5), (429, 30, 0.3, 0.25, 1.5)],
    ids=["429-honoured", "503-honoured", "capped"],
)
async def test_retry_after_is_honoured_up_to_the_cap(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    status: int,
    retry_after: int,
    cap: float,
    at_least: float,
    below: float,
) -> None:
    fake = FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, up=fake),
        "models": {"m": group("up", retries=1)},
        "router": {**FAST_ROUTER, "retry_after_cap_seconds": cap},
    }
    base = await start_gateway(routing)
    fake.enqueue(status=status, retry_after=retry_after)
    async with sdk(base) as client:
        started = time.monotonic()
        headers, _ = await chat(client, "m")
        waited = time.monotonic() - started
    assert headers["x-model-bridge-attempts"] == "2" and len(fake.requests) == 2
    assert at_least <= waited < below, waited


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
    ],
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
async def test_client_errors_from_upstream_are_never_retried(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    status: int,
    exception: type[openai.APIStatusError],
) -> None:
    primary, spare, backup = FakeOpenAI(), FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare, backup=backup)
    routing = primary_and_spare(fakes, fallbacks=["b"])
    routing["models"]["b"] = group("backup")
    base = await start_gateway(routing)
    primary.enqueue(status=status, body=openai_error(f"refused with {status}", code="nope"))
    async with sdk(base) as client:
        with pytest.raises(exception) as raised:
            await chat(client, "m")
    assert raised.value.status_code == status
    assert raised.value.body["message"] == f"refused with {status}"  # type: ignore[index]
    assert raised.value.response.headers["x-model-bridge-attempts"] == "1"
    assert (len(primary.requests), spare.requests, backup.requests) == (1, [], [])


@pytest.mark.parametrize(
    ("stream", "timeouts"),
    [(False, {"request": 0.3}), (True, {"first_byte": 0.3})],
    ids=["plain", "stream-first-byte"],
)
async def test_a_timeout_moves_on_to_the_next_deployment(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    stream: bool,
    timeouts: dict[str, float],
) -> None:
    primary, spare = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare)
    base = await start_gateway(primary_and_spare(fakes), upstream={"timeouts": timeouts})
    for _ in range(2):  # the first attempt and its retry
        primary.enqueue(delay_before_headers=3.0)
    async with sdk(base) as client:
        started = time.monotonic()
        if stream:
            headers, chunks = await chat_stream(client, "m")
            assert streamed_text(chunks) == DEFAULT_REPLY
            assert chunks[-1].choices[0].finish_reason == "stop"
        else:
            headers, reply = await chat(client, "m")
            assert reply.choices[0].message.content == DEFAULT_REPLY
        elapsed = time.monotonic() - started
    assert served_by(headers) == "m:spare:m" and headers["x-model-bridge-attempts"] == "3"
    assert (len(primary.requests), len(spare.requests)) == (2, 1)
    assert elapsed < 2.0, elapsed  # two 0.3 s timeouts, not two 3 s waits


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_connection_refused_moves_on_to_the_next_deployment(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, stream: bool
) -> None:
    spare = FakeOpenAI()
    fakes = {"primary": unreachable_provider(), **await providers(start_upstream, spare=spare)}
    base = await start_gateway(primary_and_spare(fakes))
    async with sdk(base) as client:
        if stream:
            headers, chunks = await chat_stream(client, "m")
            assert streamed_text(chunks) == DEFAULT_REPLY
        else:
            headers, _ = await chat(client, "m")
    assert served_by(headers) == "m:spare:m"
    assert headers["x-model-bridge-attempts"] == "3"  # the refused one, its retry, the spare
    assert len(spare.requests) == 1


@pytest.mark.parametrize(
    ("failing", "served", "attempts"),
    [(("a", "a2"), "b1:b1:m", "5"), (("a", "a2", "b1"), "b2:b2:m", "7")],
    ids=["first-fallback", "second-fallback"],
)
async def test_fallback_groups_follow_an_exhausted_group_in_order(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    failing: tuple[str, ...],
    served: str,
    attempts: str,
) -> None:
    fakes = {name: FakeOpenAI() for name in ("a", "a2", "b1", "b2")}
    routing = {
        "providers": await providers(start_upstream, **fakes),
        "models": {
            "m": group("a", "a2", retries=1, fallbacks=["b1", "b2"]),
            "b1": group("b1", retries=1),
            "b2": group("b2", retries=1),
        },
        "router": FAST_ROUTER,
    }
    base = await start_gateway(routing)
    for name in failing:
        fakes[name].status = 503  # standing: every attempt fails
    async with sdk(base) as client:
        headers, reply = await chat(client, "m")
    assert served_by(headers) == served and headers["x-model-bridge-attempts"] == attempts
    assert reply.choices[0].message.content == DEFAULT_REPLY
    assert all(len(fakes[name].requests) == 2 for name in failing)  # each tried and retried


CONTEXT_ERROR = openai_error(
    "This model's maximum context length is 8192 tokens.",
    param="messages",
    code="context_length_exceeded",
)
CONTEXT_BY_MESSAGE = openai_error("This model's maximum context length is 8192 tokens.")


@pytest.mark.parametrize(
    ("body", "context_fallbacks", "expect"),
    [
        (CONTEXT_ERROR, ["long"], "long"),
        (CONTEXT_BY_MESSAGE, ["long"], "long"),
        (CONTEXT_ERROR, [], 400),
    ],
    ids=["by-code", "by-message", "none-configured"],
)
async def test_a_context_window_error_goes_to_the_context_window_fallback(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    body: dict[str, Any],
    context_fallbacks: list[str],
    expect: str | int,
) -> None:
    short, other, long = FakeOpenAI(), FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, short=short, other=other, long=long),
        "models": {
            "m": group(
                "short",
                retries=1,
                fallbacks=["other"],
                context_window_fallbacks=context_fallbacks,
            ),
            "other": group("other"),
            "long": group("long"),
        },
        "router": FAST_ROUTER,
    }
    base = await start_gateway(routing)
    short.enqueue(status=400, body=body)
    async with sdk(base) as client:
        if expect == 400:
            with pytest.raises(openai.BadRequestError) as raised:
                await chat(client, "m")
            assert raised.value.code == "context_length_exceeded"
        else:
            headers, _ = await chat(client, "m")
            assert served_by(headers) == "long:long:m"
            assert headers["x-model-bridge-attempts"] == "2"
    assert len(short.requests) == 1  # never retried
    assert other.requests == []  # the ordinary fallbacks are for failures, not this
    assert len(long.requests) == (1 if context_fallbacks else 0)


@pytest.mark.parametrize(
    ("scenario", "statuses"),
    [
        # Cut during a backoff, or during an attempt begun just before the deadline.
        ("retries-and-fallbacks", (503, 504)),
        # Cut during the one attempt, which alone would have run for 3 s.
        ("one-slow-attempt", (504,)),
    ],
    ids=["retries-and-fallbacks", "one-slow-attempt"],
)
async def test_the_deadline_bounds_the_whole_request(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    scenario: str,
    statuses: tuple[int, ...],
) -> None:
    fakes = {name: FakeOpenAI() for name in ("a", "b", "c")}
    routing = {
        "providers": await providers(start_upstream, **fakes),
        "models": {
            "m": group("a", "b", retries=10, fallbacks=["n"]),
            "n": group("c", retries=10),
        },
        "router": {
            **FAST_ROUTER,
            "breaker": {"consecutive_failures": 100, "cooldown_seconds": 30},
            "backoff_base_seconds": 0.2,
            "deadline_seconds": 1.0,
        },
    }
    base = await start_gateway(routing)
    for fake in fakes.values():
        if scenario == "one-slow-attempt":
            fake.delay_before_headers = 3.0
        else:
            fake.status = 503
    async with sdk(base) as client:
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as raised:
            await chat(client, "m")
        elapsed = time.monotonic() - started
    error = raised.value
    assert error.status_code in statuses and elapsed < 1.6, (error.status_code, elapsed)
    if error.status_code == 504:
        assert error.type == "timeout_error"
    if scenario == "one-slow-attempt":
        assert sum(len(f.requests) for f in fakes.values()) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_models_own_timeout_bounds_each_attempt(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, stream: bool
) -> None:
    """`timeout_seconds` is per attempt: a hung attempt is cut and retried, and when every
    attempt hangs the client gets the 504 at once, not after `upstream.timeouts`."""
    fake, unhurried = FakeOpenAI(), FakeOpenAI(delay_before_headers=0.5)
    routing = {
        "providers": await providers(start_upstream, up=fake, other=unhurried),
        "models": {"m": group("up", retries=1, timeout_seconds=0.3), "n": group("other")},
        "router": FAST_ROUTER,
    }
    base = await start_gateway(routing)
    call = chat_stream if stream else chat
    fake.enqueue(delay_before_headers=3.0)  # the first attempt hangs; its retry answers
    async with sdk(base) as client:
        started = time.monotonic()
        headers, _ = await call(client, "m")
        assert (headers["x-model-bridge-attempts"], len(fake.requests)) == ("2", 2)
        assert time.monotonic() - started < 1.5
        fake.delay_before_headers = 3.0  # every attempt hangs
        started = time.monotonic()
        status = await status_of(call(client, "m"))
        assert (status, time.monotonic() - started < 1.5) == (504, True)
        assert len(fake.requests) == 4
        headers, _ = await call(client, "n")  # another model's slower answer is not cut
    assert (served_by(headers), headers["x-model-bridge-attempts"]) == ("n:other:m", "1")


@pytest.mark.parametrize(
    ("behaviour", "timeouts"),
    [({"drop_mid_stream": 3}, {}), ({"delay_between_chunks": 3.0}, {"between_chunks": 0.3})],
    ids=["connection-dropped", "upstream-goes-silent"],
)
async def test_a_stream_that_breaks_after_its_first_byte_is_not_failed_over(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    behaviour: dict[str, Any],
    timeouts: dict[str, float],
) -> None:
    """Content reached the client: the failure ends the stream (the event itself is
    `tests/test_streaming.py`'s), and no other deployment is asked."""
    primary, spare = FakeOpenAI(), FakeOpenAI()
    fakes = await providers(start_upstream, primary=primary, spare=spare)
    base = await start_gateway(primary_and_spare(fakes), upstream={"timeouts": timeouts})
    primary.enqueue(**behaviour)
    async with aiohttp.ClientSession() as session:
        status, headers, body = await post_chat(session, base, "m", stream=True)
    events = [e.removeprefix(b"data: ") for e in body.split(b"\n\n") if e]
    assert status == 200 and events[0].startswith(b'{"id"')  # content reached the client
    assert b'"error"' in events[-1] and b"[DONE]" not in body
    assert served_by(headers) == "m:primary:m" and headers["x-model-bridge-attempts"] == "1"
    assert (len(primary.requests), spare.requests) == (1, [])  # not retried, no failover
