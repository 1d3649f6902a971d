"""``GET /metrics`` in Prometheus's text format (prometheus_client), one registry per app.

Requests, errors and latency are counted by :class:`RequestMetrics`, an ASGI middleware that sees
every answer, the 413 of an over-large body and the 403 of a wrong key included. Queue depth,
model calls, sentences translated and requests dropped (client gone) are read from the batcher
when Prometheus scrapes, so the batcher keeps plain counters and knows nothing of Prometheus.
"""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .batching import Batcher

# A translation on a busy CPU takes seconds; the default buckets stop at 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class BatcherCollector:
    def __init__(self, batcher: Batcher):
        self.batcher = batcher

    def collect(self):
        b = self.batcher
        yield GaugeMetricFamily("interlingua_queue_depth", "Requests queued or in the model, not yet answered",
                                value=b.waiting)
        yield CounterMetricFamily("interlingua_model_calls", "Model calls made by the batching worker",
                                  value=b.model_calls)
        yield CounterMetricFamily("interlingua_sentences_translated", "Translations written (sentences x targets)",
                                  value=b.sentences_translated)
        yield CounterMetricFamily("interlingua_requests_dropped", "Requests whose client hung up before their batch ran",
                                  value=b.dropped_requests)


class Metrics:
    def __init__(self, batcher: Batcher):
        self.registry = CollectorRegistry()
        self.requests = Counter("interlingua_requests", "HTTP requests answered", ["path", "status"],
                                registry=self.registry)
        self.errors = Counter("interlingua_request_errors", "HTTP requests answered with a 4xx or 5xx",
                              ["path", "status"], registry=self.registry)
        self.latency = Histogram("interlingua_request_seconds", "Time to answer a request", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(BatcherCollector(batcher))

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        if status >= 400:
            self.errors.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def route_label(scope: dict) -> str:
    """The path of the route that answered (Starlette notes it in the scope); "other" for a path no
    route has, so a scanner cannot grow the label set without bound."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path_format", None) or getattr(route, "path", "other")
    return scope["path"] if "endpoint" in scope else "other"  # a Starlette that does not note the route


class RequestMetrics:
    """ASGI middleware: count and time every HTTP request by its route."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), [500]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.observe(route_label(scope), status[0], time.perf_counter() - start)
