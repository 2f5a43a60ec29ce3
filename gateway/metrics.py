"""Prometheus metrics, one registry per app so two apps in one process never collide.

Names follow the OpenTelemetry GenAI conventions where one exists; every label set is bounded
(model names come from the routing file, never from the request).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "model_bridge_requests",
            "Client requests by route, model and status",
            ("route", "model", "status"),
            registry=r,
        )
        self.overhead = Histogram(
            "model_bridge_overhead_seconds",
            "Time spent in the gateway, excluding upstream",
            ("route",),
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream_latency = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Upstream call duration",
            ("provider", "model"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to the first streamed chunk",
            ("provider", "model"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "gen_ai_client_token_usage",
            "Tokens reported by providers",
            ("model", "type"),
            registry=r,
        )

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
        microseconds that every request would otherwise pay, several times over."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def observe_response(self, route: str, model: str, status: int, overhead: float) -> None:
        self.child(self.requests, route, model, str(status)).inc()
        self.child(self.overhead, route).observe(overhead)

    async def handle_scrape(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})
