"""Prometheus metrics of one node, in a registry of its own (one per app, never the global).

The per-request instruments (``node_http_requests``, ``node_http_request_duration_seconds``,
``node_http_in_flight``) are plain ints on ``HttpCounts``, rendered by a collector when
``/metrics`` is scraped, as the balancer's are (``balancer/counters.py``): the client library's
children take a lock per ``inc``/``observe`` and a ``Histogram.observe`` walks its buckets: 2.7 %
of a ``GET /whoami``'s py-spy samples, against 0.4 % for ``HttpCounts.observe``. One event loop
updates them; scrapes run on it too. The families, names, labels and values are the ones the
client library wrote (a test holds the text equal); the rare instruments stay the library's own.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The ``le`` labels as the client library writes them (``floatToGoString``: ``repr`` for these).
_BUCKET_LABELS = (*(repr(b) for b in LATENCY_BUCKETS), "+Inf")
_HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
REQUESTS = ("node_http_requests", "HTTP requests answered, by route template, method and status.")
LATENCY = (
    "node_http_request_duration_seconds",
    "Time from request to response, by route template and method.",
)
IN_FLIGHT = ("node_http_in_flight", "Requests being handled.")


class _Latency:
    """One (route, method)'s histogram: a count per bucket (not cumulative), +Inf last."""

    __slots__ = ("buckets", "created", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0
        self.created = time.time()


class _Series:
    """One (route, method, status)'s count, and its (route, method)'s histogram."""

    __slots__ = ("count", "created", "latency")

    def __init__(self, latency: _Latency) -> None:
        self.count = 0
        self.latency = latency
        self.created = time.time()


class HttpCounts(Collector):
    """Every answered request, counted and timed, and the requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._latency: dict[tuple[str, str], _Latency] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""
        series = self._series.get((route, method, status))
        if series is None:
            series = self._new_series(route, method, status)
        series.count += 1
        latency = series.latency
        latency.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds
        latency.sum += seconds

    def _new_series(self, route: str, method: str, status: int) -> _Series:
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[route, method] = _Latency()
        series = self._series[route, method, status] = _Series(latency)
        return series

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(*REQUESTS, labels=["route", "method", "status"])
        for (route, method, status), series in self._series.items():
            requests.add_metric([route, method, str(status)], series.count, series.created)
        yield requests
        latency = HistogramMetricFamily(*LATENCY, labels=["route", "method"])
        for (route, method), histogram in self._latency.items():
            cumulative, buckets = 0, []
            for bound, count in zip(_BUCKET_LABELS, histogram.buckets, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            latency.add_metric([route, method], buckets, histogram.sum)
            labels = {"route": route, "method": method}
            latency.samples.append(Sample(f"{LATENCY[0]}_created", labels, histogram.created))
        yield latency
        yield GaugeMetricFamily(*IN_FLIGHT, value=self.in_flight)


class Metrics:
    """The node's instruments; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._declare_http(self.registry)
        self._declare_outcomes(self.registry)
        self._declare_admission(self.registry)

    def _declare_http(self, r: CollectorRegistry) -> None:
        """Every request: counted, timed, in flight (``HttpCounts``); and whether it drains."""
        self.http = HttpCounts()
        r.register(self.http)
        self.draining = Gauge("node_draining", "1 while the node drains after SIGTERM.", registry=r)

    def _declare_outcomes(self, r: CollectorRegistry) -> None:
        """How requests ended: 401 reasons, Idempotency-Key outcomes, Redis failures."""
        self.auth_failures = Counter(
            "node_auth_failures", "Requests refused with 401, by reason.", ["reason"], registry=r
        )
        self.idempotency = Counter(
            "node_idempotency_outcomes",
            "What requests with an Idempotency-Key did (reserve, replay, mismatch, "
            "in_progress, take_over, committed, fenced, released).",
            ["outcome"],
            registry=r,
        )
        self.store_errors = Counter(
            "node_store_unavailable", "Requests answered 503 because Redis failed.", registry=r
        )
        self.store_retries = Counter(
            "node_store_retries",
            "Redis calls sent again through a failover (REDIS_SENTINELS), by the error met.",
            ["error"],
            registry=r,
        )

    def _declare_admission(self, r: CollectorRegistry) -> None:
        """Requests shed before any work, and the password-hashing queue the decision reads."""
        self.shed = Counter(
            "node_shed",
            "Requests answered 503 before any work because the node was overloaded, by route.",
            ["route"],
            registry=r,
        )
        self.hash_seconds = Histogram(
            "node_password_hash_duration_seconds",
            "Wall time of one password hash on its thread (CPU contention included).",
            buckets=_HASH_BUCKETS,
            registry=r,
        )
        self.hash_queued = Gauge(
            "node_password_hash_queued", "Logins admitted and not yet hashing.", registry=r
        )
        self.hash_running = Gauge(
            "node_password_hash_running", "Password hashes running on threads.", registry=r
        )
        self.hash_estimate = Gauge(
            "node_password_hash_estimate_seconds",
            "The moving estimate of one hash's duration that admission decides with.",
            registry=r,
        )

    def track_hashing(
        self,
        queued: Callable[[], float],
        running: Callable[[], float],
        estimate: Callable[[], float],
    ) -> None:
        """Read the hashing gauges from the gate when scraped (nothing to update per login)."""
        self.hash_queued.set_function(queued)
        self.hash_running.set_function(running)
        self.hash_estimate.set_function(estimate)

    def render(self) -> bytes:
        return generate_latest(self.registry)
