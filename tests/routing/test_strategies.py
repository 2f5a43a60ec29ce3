"""Which deployment of a group a request reaches: the five strategies and A/B splits,
each checked against what the fake providers actually received."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections import Counter
from typing import Any

import pytest

from gateway.routing.health import HealthBoard, minute_count
from gateway.routing.schema import BreakerConfig
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.routing.fleet import (
    StartUpstream,
    bounded,
    chat,
    group,
    one_model,
    price,
    providers,
    sdk,
    served_by,
)


@pytest.mark.parametrize(
    ("weights", "low", "high"),
    [((3, 1), 0.65, 0.85), ((1, 3), 0.15, 0.35), ((1, 1), 0.40, 0.60)],
    ids=["3:1", "1:3", "1:1"],
)
async def test_weighted_distributes_by_weight(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    weights: tuple[int, int],
    low: float,
    high: float,
) -> None:
    a, b = FakeOpenAI(), FakeOpenAI()
    weighted = {"a": {"weight": weights[0]}, "b": {"weight": weights[1]}}
    base = await one_model(start_gateway, start_upstream, {"a": a, "b": b}, **weighted)
    async with sdk(base) as client:
        results = await bounded(400, 20, lambda _: chat(client, "m"))
    served = Counter(served_by(headers) for headers, _ in results)
    assert served == {"m:a:m": len(a.requests), "m:b:m": len(b.requests)}
    assert len(a.requests) + len(b.requests) == 400  # one upstream call each, no retries
    # ±4 standard deviations of a binomial over 400 draws.
    assert low <= len(a.requests) / 400 <= high, served


async def test_least_busy_prefers_the_idle_deployment(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    """While a slow request holds `busy`, every request goes to `idle`."""
    busy, idle = FakeOpenAI(delay_before_headers=2.0), FakeOpenAI()
    fakes = {"busy": busy, "idle": idle}
    base = await one_model(start_gateway, start_upstream, fakes, strategy="least-busy")
    async with sdk(base) as client:
        while True:  # both idle at first, and ties are random: send until `busy` holds one
            before = len(idle.requests)
            holder = asyncio.create_task(chat(client, "m"))
            while not busy.requests and len(idle.requests) == before:
                await asyncio.sleep(0.005)
            if busy.requests:
                break
            await holder  # it went to `idle`, which answered at once
        for _ in range(10):
            headers, _ = await chat(client, "m")
            assert served_by(headers) == "m:idle:m"
        assert len(busy.requests) == 1 and not holder.done()
        headers, _ = await holder
    assert served_by(headers) == "m:busy:m"


async def test_lowest_latency_prefers_the_faster_deployment_after_warm_up(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    slow, fast = FakeOpenAI(delay_before_headers=0.2), FakeOpenAI()
    fakes = {"slow": slow, "fast": fast}
    base = await one_model(start_gateway, start_upstream, fakes, strategy="lowest-latency")
    async with sdk(base) as client:
        for _ in range(2):  # warm-up: an unmeasured deployment goes first, so one each
            await chat(client, "m")
        assert (len(slow.requests), len(fast.requests)) == (1, 1)
        for _ in range(20):
            headers, _ = await chat(client, "m")
            assert served_by(headers) == "m:fast:m"
    assert len(slow.requests) == 1


@pytest.mark.parametrize("cheap_first", [True, False], ids=["cheap-listed-first", "cheap-last"])
async def test_lowest_cost_picks_the_cheaper_price(
    start_gateway: GatewayFactory, start_upstream: StartUpstream, cheap_first: bool
) -> None:
    cheap, dear = FakeOpenAI(), FakeOpenAI()
    fakes = {"cheap": cheap, "dear": dear} if cheap_first else {"dear": dear, "cheap": cheap}
    prices = {"cheap": price(0.1), "dear": price(0.2)}
    base = await one_model(start_gateway, start_upstream, fakes, strategy="lowest-cost", **prices)
    async with sdk(base) as client:
        results = await bounded(20, 5, lambda _: chat(client, "m"))
    assert {served_by(headers) for headers, _ in results} == {"m:cheap:m"}
    assert (len(cheap.requests), len(dear.requests)) == (20, 0)


@pytest.mark.parametrize(
    ("strategy", "capacity", "most_to_small"),
    [
        ("usage-based", {"small": {"rpm": 5}, "large": {"rpm": 100}}, 3),
        ("usage-based", {"small": {"tpm": 60}, "large": {"tpm": 100_000}}, 3),
        # The same capacities under `weighted`: the share the small one would otherwise get.
        ("weighted", {"small": {"rpm": 5}, "large": {"rpm": 100}}, 40),
    ],
    ids=["rpm", "tpm", "control-weighted"],
)
async def test_usage_based_moves_traffic_away_from_a_deployment_near_capacity(
    start_gateway: GatewayFactory,
    start_upstream: StartUpstream,
    strategy: str,
    capacity: dict[str, Any],
    most_to_small: int,
) -> None:
    small, large = FakeOpenAI(), FakeOpenAI()
    fakes = {"small": small, "large": large}
    base = await one_model(start_gateway, start_upstream, fakes, strategy=strategy, **capacity)
    async with sdk(base) as client:
        for _ in range(40):  # one at a time, so each choice sees the previous ones' use
            await chat(client, "m")
    assert len(small.requests) + len(large.requests) == 40
    assert len(small.requests) <= most_to_small
    if strategy == "weighted":
        assert len(small.requests) >= 8  # the control really does reach `small`


async def test_ab_split_sends_its_share_to_the_other_group_and_says_which(
    start_gateway: GatewayFactory, start_upstream: StartUpstream
) -> None:
    control, candidate = FakeOpenAI(), FakeOpenAI()
    routing = {
        "providers": await providers(start_upstream, control=control, candidate=candidate),
        "models": {
            "m": group("control", split={"model": "m-next", "share": 0.3}),
            "m-next": group("candidate"),
        },
    }
    base = await start_gateway(routing)
    async with sdk(base) as client:
        results = await bounded(400, 20, lambda _: chat(client, "m"))
    variants = Counter(
        (headers["x-model-bridge-variant"], served_by(headers)) for headers, _ in results
    )
    assert set(variants) <= {("control", "m:control:m"), ("m-next", "m-next:candidate:m")}
    assert variants[("m-next", "m-next:candidate:m")] == len(candidate.requests)
    assert variants[("control", "m:control:m")] == len(control.requests)
    assert 0.2 <= len(candidate.requests) / 400 <= 0.4, variants
    # The target of a split, asked for directly, is no experiment.
    async with sdk(base) as client:
        headers, _ = await chat(client, "m-next")
    assert "x-model-bridge-variant" not in headers


def test_the_board_counts_the_last_minute_of_traffic() -> None:
    board = HealthBoard(BreakerConfig())
    for second in range(600):  # ten minutes, a request a second
        board.started("d", float(second))
        board.finished("d", True, second + 0.5, 0.1, tokens=10)
    health = board.get("d")
    assert health.requests_per_minute.total(599.6) == 60
    assert health.tokens_per_minute.total(599.6) == 600
    assert health.requests_per_minute.total(629.0) == 30  # seconds 570 to 599 are in
    assert health.requests_per_minute.total(700.0) == 0


def test_a_minute_count_holds_its_sums_in_constant_memory() -> None:
    """A burst of a hundred thousand requests in two seconds: counted exactly, in the same
    sixty slots a quiet deployment uses (it once kept a timestamp per request)."""
    count = minute_count()
    tracemalloc.start()
    try:
        for i in range(100_000):
            count.add(1000.0 + i / 50_000)
        grown, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count.total(1001.5) == 100_000
    assert count.total(1060.5) == 50_000  # the first second has left the minute
    assert grown < 10_000
