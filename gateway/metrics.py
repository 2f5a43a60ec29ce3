"""Prometheus metrics, one registry per app so two apps in one process never collide.

Names follow the OpenTelemetry GenAI conventions where one exists; every label set is bounded
(model names come from the routing file, never from the request).

What every request records goes into `LoopCounter` and `LoopHistogram`: a dict update, and a
bisect for a histogram. prometheus_client's own children take a lock and walk the buckets in
Python on every call, which a request paid several times over; the event loop needs neither,
as everything runs on its thread, the scrape included. They are exposed through the registry
at scrape time like any other metric.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

Labels = tuple[object, ...]  # label values in `labelnames` order; str() when scraped


class _LoopMetric:
    """A collector for the registry: `describe` names what `collect` yields, so a clash of
    names is caught at start-up as it is for the library's own metrics."""

    kind: type[CounterMetricFamily] | type[HistogramMetricFamily]

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name, self._documentation, self._labelnames = name, documentation, list(labelnames)

    def _family(self) -> Any:
        return self.kind(self._name, self._documentation, labels=self._labelnames)

    def describe(self) -> Iterator[Metric]:
        yield self._family()


class LoopCounter(_LoopMetric):
    kind = CounterMetricFamily

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.values: dict[Labels, float] = {}
        registry.register(self)

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for labels, value in self.values.items():
            family.add_metric([str(v) for v in labels], value)
        yield family


class LoopHistogram(_LoopMetric):
    kind = HistogramMetricFamily

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self._bounds = tuple(float(b) for b in buckets)
        le = [floatToGoString(b) for b in self._bounds]  # type: ignore[no-untyped-call]
        self._le = [*le, "+Inf"]
        # Per label set: the count of each bucket (the last one past every bound), then the sum.
        self.series: dict[Labels, list[float]] = {}
        registry.register(self)

    def observe(self, labels: Labels, value: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, value)] += 1  # the first bound >= value: `le`
        series[-1] += value

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for labels, series in self.series.items():
            buckets = list(zip(self._le, accumulate(series[:-1]), strict=True))
            family.add_metric([str(v) for v in labels], buckets, sum_value=series[-1])
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # Recorded by every request.
        self.requests = LoopCounter(
            "model_bridge_requests",
            "Client requests by route, model and status",
            ("route", "model", "status"),
            r,
        )
        self.overhead = LoopHistogram(
            "model_bridge_overhead_seconds",
            "Time spent in the gateway, excluding upstream",
            ("route",),
            _OVERHEAD_BUCKETS,
            r,
        )
        self.upstream_latency = LoopHistogram(
            "gen_ai_server_request_duration_seconds",
            "Upstream call duration",
            ("provider", "model"),
            _LATENCY_BUCKETS,
            r,
        )
        self.time_to_first_token = LoopHistogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to the first streamed chunk",
            ("provider", "model"),
            _LATENCY_BUCKETS,
            r,
        )
        self.tokens = LoopCounter(
            "gen_ai_client_token_usage", "Tokens reported by providers", ("model", "type"), r
        )

        # Recorded on rarer events.

        self.cache_errors = Counter(
            "model_bridge_cache_errors",
            "Response cache backend failures",
            ("operation",),
            registry=r,
        )

        self.routing_reloads = Counter(
            "model_bridge_routing_reloads",
            "Routing file reloads by result",
            ("result",),
            registry=r,
        )

        self.gc_frozen_objects = Gauge(
            "model_bridge_gc_frozen_objects",
            "Objects exempt from garbage collection: the heap built at start-up",
            registry=r,
        )
        self.gc_frozen_objects.set_function(gc.get_freeze_count)
        self.usage_queue_depth = Gauge(
            "model_bridge_usage_queue_depth", "Usage records waiting to be written", registry=r
        )
        self.usage_written = Counter(
            "model_bridge_usage_records_written", "Usage records written", registry=r
        )
        self.usage_write_failures = Counter(
            "model_bridge_usage_write_failures", "Failed usage batch writes", registry=r
        )
        self.usage_dropped_to_journal = Counter(
            "model_bridge_usage_journal_only",
            "Usage records kept only in the journal because the queue was full",
            registry=r,
        )

        self.limits_redis_errors = Counter(
            "model_bridge_limits_redis_errors", "Rate-limit store failures", registry=r
        )
        self.rate_limited = Counter(
            "model_bridge_rate_limited", "Requests refused by a limit", ("family",), registry=r
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, looked up once and kept: prometheus' `labels()` costs
        microseconds."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def observe_response(self, route: str, model: str, status: int, overhead: float) -> None:
        self.requests.inc((route, model, status))
        self.overhead.observe((route,), overhead)

    async def handle_scrape(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})
