"""The balancer's Prometheus metrics (``GET /_lb/metrics`` on the admin listener), rendered at
scrape time from ``counters`` (the plain ints the hot path increments; no metric object is
touched per request).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from balancer.context import Proxy
from balancer.counters import LATENCY_BUCKETS, Counters
from balancer.health import State

PROM = b"text/plain; version=0.0.4; charset=utf-8"


def render(proxy: Proxy) -> bytes:
    """The Prometheus text of ``proxy``'s counters now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(proxy))
    return generate_latest(registry)


class _Collector(Collector):
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    def collect(self) -> Iterator[Metric]:
        yield from _backend_families(self.proxy)
        yield from _process_families(self.proxy)


def _backend_families(proxy: Proxy) -> Iterator[Metric]:
    labels = ["backend", "url"]
    up = GaugeMetricFamily("balancer_backend_up", "1 when the backend gets traffic", labels=labels)
    state = GaugeMetricFamily(
        "balancer_backend_state", "1 for the backend's current state", labels=[*labels, "state"]
    )
    in_flight = GaugeMetricFamily("balancer_backend_in_flight", "requests in flight", labels=labels)
    requests = CounterMetricFamily("balancer_backend_requests", "attempts sent", labels=labels)
    failures = CounterMetricFamily("balancer_backend_failures", "failed attempts", labels=labels)
    ejections = CounterMetricFamily("balancer_backend_ejections", "ejections", labels=labels)
    outliers = CounterMetricFamily(
        "balancer_backend_outlier_ejections", "ejections by failed tries in a row", labels=labels
    )
    shed = CounterMetricFamily(
        "balancer_backend_shed", "503 + X-Not-Processed answers (load shed)", labels=labels
    )
    for b in proxy.pool.backends:
        key = [b.name, b.url]
        up.add_metric(key, 1.0 if b.state is State.UP else 0.0)
        for s in State:
            state.add_metric([*key, s.value], 1.0 if b.state is s else 0.0)
        counts = b.counts
        in_flight.add_metric(key, counts.in_flight)
        requests.add_metric(key, counts.requests)
        failures.add_metric(key, counts.failures)
        ejections.add_metric(key, counts.ejections)
        outliers.add_metric(key, counts.outlier_ejections)
        shed.add_metric(key, counts.shed)
    yield from (up, state, in_flight, requests, failures, ejections, outliers, shed)


def _process_families(proxy: Proxy) -> Iterator[Metric]:
    counters = proxy.counters
    responses = CounterMetricFamily("balancer_responses", "responses by status", labels=["code"])
    for code, count in sorted(counters.codes.items()):
        responses.add_metric([str(code)], count)
    local = CounterMetricFamily(
        "balancer_local_responses", "answers the balancer made itself", labels=["code"]
    )
    for code, count in sorted(counters.local.items()):
        local.add_metric([str(code)], count)
    yield from (responses, local)
    yield CounterMetricFamily("balancer_retries", "attempts that were retries", counters.retries)
    yield CounterMetricFamily(
        "balancer_retry_budget_denied", "retries refused by the budget", counters.budget_denied
    )
    yield CounterMetricFamily(
        "balancer_responses_aborted", "responses cut mid-body", counters.aborted
    )
    yield from _overload_families(counters)
    yield from _hedge_families(proxy)
    yield GaugeMetricFamily("balancer_active_requests", "requests in flight", counters.active)
    yield _histogram(counters.latency_buckets, counters.latency_sum)


def _overload_families(counters: Counters) -> Iterator[Metric]:
    """Slow is not failed (waits past the per-try timeout), and load shed by the nodes."""
    for name, help_text, value in (
        ("balancer_waits", "tries past the per-try timeout waited on", counters.waits),
        ("balancer_wait_expired", "waits that hit BALANCER_REQUEST_TIMEOUT", counters.wait_expired),
        ("balancer_wait_taken_out", "waits ended by health (backend out)", counters.wait_taken_out),
        ("balancer_shed_retries", "shed answers retried on another backend", counters.shed_retries),
        ("balancer_shed_relayed", "shed answers passed to the client", counters.shed_relayed),
    ):
        yield CounterMetricFamily(name, help_text, value)


def _hedge_families(proxy: Proxy) -> Iterator[Metric]:
    """Hedging (``balancer.backup``): second tries sent, won, refused, heads not relayed."""
    counters = proxy.counters
    for name, help_text, value in (
        ("balancer_hedges", "second tries sent beside a slow one", counters.hedges),
        ("balancer_hedges_won", "hedges that answered first", counters.hedges_won),
        (
            "balancer_hedge_budget_denied",
            "hedges refused by the retry budget",
            counters.hedges_denied,
        ),
        (
            "balancer_hedge_discarded",
            "heads not relayed while the other try ran",
            counters.hedge_discarded,
        ),
    ):
        yield CounterMetricFamily(name, help_text, value)
    yield GaugeMetricFamily(
        "balancer_hedge_delay_seconds", "the hedge delay now", proxy.hedge_delay()
    )


def _histogram(counts: list[int], total: float) -> HistogramMetricFamily:
    cumulative, buckets = 0, []
    for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), counts, strict=True):
        cumulative += count
        buckets.append((bound, float(cumulative)))
    return HistogramMetricFamily(
        "balancer_request_duration_seconds",
        "time from a request's last byte to its response's last byte",
        buckets=buckets,
        sum_value=total,
    )
