"""Prometheus metrics: requests, latency, match outcomes, matcher and index state.

With ``serve --workers N`` a scrape lands on any one worker, so request counters and
histograms use prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
``serve`` for N > 1): every scrape reports the sum over all workers. The matcher gauges are
read at scrape time (they cost nothing per request) and describe the answering worker's own
indexes, labelled with its ``pid``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _MatcherCollector(Collector):
    def __init__(self, status: Callable[[], dict | None]) -> None:
        self._status = status

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = self._status()
        pid = [str(os.getpid())]
        ready = GaugeMetricFamily(
            "countersignal_matcher_ready", "1 once indexes are loaded", labels=["pid"]
        )
        ready.add_metric(pid, 1.0 if status and status.get("ready") else 0.0)
        yield ready
        if not status:
            return
        seq = GaugeMetricFamily(
            "countersignal_matcher_applied_seq", "last signal change log entry applied",
            labels=["pid"],
        )
        seq.add_metric(pid, float(status["applied_seq"]))
        yield seq
        lag = GaugeMetricFamily(
            "countersignal_matcher_sync_age_seconds", "seconds since the last successful sync",
            labels=["pid"],
        )
        lag.add_metric(pid, float(status.get("sync_age_s") or 0.0))
        yield lag
        sizes = GaugeMetricFamily(
            "countersignal_index_signals", "signals in each index", labels=["pid", "signal_type"]
        )
        for signal_type, size in status["indexes"].items():
            sizes.add_metric([*pid, signal_type], float(size))
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
        self._matcher = _MatcherCollector(matcher_status)
        self.registry.register(self._matcher)
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
        shared = os.environ.get(MULTIPROCESS_ENV)
        if not shared:
            return generate_latest(self.registry)
        registry = CollectorRegistry()  # every worker's counters, summed from their files
        MultiProcessCollector(registry, path=shared)
        registry.register(self._matcher)
        return generate_latest(registry)
