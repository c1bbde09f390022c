"""Prometheus metrics of one node, in a registry of its own (one per app, never the global)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: At most this many (route, method, status) children are memoised; beyond, ``labels()`` is
#: asked each time (methods come from clients, so the set is not closed).
MAX_CACHED_SERIES = 1024
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_HASH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The node's instruments; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._declare_http(self.registry)
        self._declare_outcomes(self.registry)
        self._declare_admission(self.registry)
        # ``labels()`` validates and hashes its arguments on every call; the children it
        # returns are stable, so each request's pair is looked up once per series.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _declare_http(self, r: CollectorRegistry) -> None:
        """Every request: counted, timed, in flight; and whether the node drains."""
        self.requests = Counter(
            "node_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "node_http_request_duration_seconds",
            "Time from request to response, by route template and method.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("node_http_in_flight", "Requests being handled.", registry=r)
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

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            if len(self._series) < MAX_CACHED_SERIES:
                self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
