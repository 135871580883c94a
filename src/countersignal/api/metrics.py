"""Prometheus metrics for one API process: requests, latency, matcher and index state.

Each process keeps its own registry (``--workers N`` means N series sets, told apart by the
scraper's instance or by ``pid``-labelled targets); matcher gauges are read at scrape time so
they cost nothing per request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _MatcherCollector(Collector):
    def __init__(self, status: Callable[[], dict | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._status()
        ready = GaugeMetricFamily("countersignal_matcher_ready", "1 once indexes are loaded")
        ready.add_metric([], 1.0 if status and status.get("ready") else 0.0)
        yield ready
        if not status:
            return
        seq = GaugeMetricFamily(
            "countersignal_matcher_applied_seq", "last signal change log entry applied"
        )
        seq.add_metric([], float(status["applied_seq"]))
        yield seq
        lag = GaugeMetricFamily(
            "countersignal_matcher_sync_age_seconds", "seconds since the last successful sync"
        )
        lag.add_metric([], float(status.get("sync_age_s") or 0.0))
        yield lag
        sizes = GaugeMetricFamily(
            "countersignal_index_signals", "signals in each index", labels=["signal_type"]
        )
        for signal_type, size in status["indexes"].items():
            sizes.add_metric([signal_type], float(size))
        yield sizes


class ApiMetrics:
    def __init__(self, matcher_status: Callable[[], dict | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "countersignal_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "countersignal_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.matches = Counter(
            "countersignal_match_results",
            "match requests by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_MatcherCollector(matcher_status))
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # label lookups cost more than the increments: cache them
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
