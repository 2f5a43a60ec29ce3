"""The per-request metrics: what a scrape shows after requests are recorded."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import DuplicateTimeseries

from gateway.metrics import LoopCounter, Metrics
from tests.routing.fleet import metric
from tests.sdk_stack import CHAT, COMPLETION_TOKENS, PROMPT_TOKENS, Stack, post, raw_stream


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the scrape, parsed back from the exposition text as Prometheus would."""
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    metrics = Metrics()
    for seconds in (0.0001, 0.0003, 0.0003, 0.2, 7.0):  # 0.0001 sits exactly on a bound
        metrics.overhead.observe(("/v1/chat/completions",), seconds)
    samples = _samples(metrics)

    def bucket(le: str) -> float:
        labels = frozenset({("route", "/v1/chat/completions"), ("le", le)})
        return samples["model_bridge_overhead_seconds_bucket", labels]

    assert bucket("0.0001") == 1
    assert bucket("0.00025") == 1
    assert bucket("0.0005") == 3
    assert bucket("0.1") == 3
    assert bucket("+Inf") == 5
    route = frozenset({("route", "/v1/chat/completions")})
    assert samples["model_bridge_overhead_seconds_count", route] == 5
    assert samples["model_bridge_overhead_seconds_sum", route] == pytest.approx(7.2007)


def test_counters_add_up_per_label_set() -> None:
    metrics = Metrics()
    metrics.observe_response("/v1/embeddings", "small", 200, 0.001)
    metrics.observe_response("/v1/embeddings", "small", 200, 0.001)
    metrics.observe_response("/v1/embeddings", "small", 429, 0.001)
    metrics.tokens.inc(("small", "input"), 12)
    metrics.tokens.inc(("small", "input"), 30)
    samples = _samples(metrics)
    ok = frozenset({("route", "/v1/embeddings"), ("model", "small"), ("status", "200")})
    refused = ok - {("status", "200")} | {("status", "429")}
    assert samples["model_bridge_requests_total", ok] == 2
    assert samples["model_bridge_requests_total", refused] == 1
    tokens = frozenset({("model", "small"), ("type", "input")})
    assert samples["gen_ai_client_token_usage_total", tokens] == 42


def test_a_name_taken_twice_is_refused_at_start_up() -> None:
    metrics = Metrics()
    with pytest.raises(DuplicateTimeseries):
        LoopCounter("model_bridge_requests", "again", ("route",), metrics.registry)


async def test_provider_tokens_are_counted_for_whole_answers_and_streams(stack: Stack) -> None:
    chat = {"model": "gpt-4o-mini", "messages": CHAT}
    status, _, _ = await post(stack.gateway + "/chat/completions", chat)
    assert status == 200
    await raw_stream(stack.gateway, {**chat, "stream": True})  # usage asked of the provider
    async with aiohttp.ClientSession() as session:
        for kind, each in (("input", PROMPT_TOKENS), ("output", COMPLETION_TOKENS)):
            sample = f'gen_ai_client_token_usage_total{{model="gpt-4o-mini",type="{kind}"}}'
            assert await metric(session, stack.gateway, sample) == 2 * each
