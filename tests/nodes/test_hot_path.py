"""The per-request shortcuts (request ids, metric series) match the slow paths they replace."""

from __future__ import annotations

import json
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from nodes.handlers.session import whoami_body
from nodes.metrics import IN_FLIGHT, LATENCY, LATENCY_BUCKETS, REQUESTS, HttpCounts, Metrics
from nodes.middleware import new_request_id
from nodes.tokens import Claims

# --- request ids ---------------------------------------------------------------------------


def test_new_request_ids_are_random_version_4_uuids_in_hex() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and len(value) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # the random bits do vary: every hex position outside the fixed nibbles takes many values
    for position in range(32):
        seen = {value[position] for value in ids}
        assert len(seen) == 1 if position == 12 else len(seen) > 3


# --- metrics -------------------------------------------------------------------------------


def _library_twin(calls: list[tuple[str, str, int, float]], in_flight: int) -> str:
    """What the client library's own instruments render for the same requests."""
    registry = CollectorRegistry()
    requests = Counter(*REQUESTS, ["route", "method", "status"], registry=registry)
    latency = Histogram(*LATENCY, ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry)
    Gauge(*IN_FLIGHT, registry=registry).set(in_flight)
    for route, method, status, seconds in calls:
        requests.labels(route, method, str(status)).inc()
        latency.labels(route, method).observe(seconds)
    return generate_latest(registry).decode()


def _without_created(text: str) -> list[str]:
    """The lines, with each ``_created`` sample's value (a clock reading) cut off."""
    return [line.rsplit(" ", 1)[0] if "_created{" in line else line for line in text.splitlines()]


def test_http_counts_render_what_the_client_library_rendered() -> None:
    calls = [("/whoami", "GET", 200, 0.002), ("/whoami", "GET", 401, 0.0004)] * 3
    calls += [("unmatched", "BREW", 404, 0.3), ("/orders/{id}", "PUT", 412, 7.0)]
    calls += [("/whoami", "GET", 200, b) for b in LATENCY_BUCKETS]  # a bound is in its bucket
    counts = HttpCounts()
    counts.in_flight = 2
    for call in calls:
        counts.observe(*call)
    registry = CollectorRegistry()
    registry.register(counts)
    ours = generate_latest(registry).decode()
    assert _without_created(ours) == _without_created(_library_twin(calls, 2))
    assert 'node_http_requests_total{method="GET",route="/whoami",status="200"} 15.0' in ours
    created = [line for line in ours.splitlines() if "_created{" in line]
    assert len(created) == 4 + 3 and all(float(line.split()[-1]) > 1e9 for line in created)


def test_node_metrics_keep_every_family_and_series() -> None:
    m = Metrics()
    for i in range(2000):  # methods come from clients: every one is counted, as before
        m.http.observe("unmatched", f"M{i}", 404, 0.001)
    text = m.render().decode()
    assert text.count("node_http_requests_total{") == 2000
    for family in ("node_http_request_duration_seconds", "node_http_in_flight", "node_draining"):
        assert f"# TYPE {family} " in text


# --- the whoami body -----------------------------------------------------------------------


def test_the_whoami_body_is_what_json_response_wrote() -> None:
    for sub, jti, node in (("alice", "0" * 32, "node-1"), ('a"\\b', "é☃\U0001f600", "\x00\x7f")):
        claims = Claims(sub=sub, jti=jti, iat=1, exp=1_700_000_900, scope="orders")
        expected = {"sub": sub, "jti": jti, "exp": 1_700_000_900, "node": node}
        assert whoami_body(claims, node) == json.dumps(expected, separators=(",", ":")).encode()
