"""The per-request shortcuts (request ids, metric series) match the slow paths they replace."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import generate_latest

from nodes import metrics as metrics_module
from nodes.metrics import Metrics
from nodes.middleware import new_request_id

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


def _samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in m.registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_observe_request_counts_like_labels() -> None:
    fast, slow = Metrics(), Metrics()
    calls = [("/whoami", "GET", 200, 0.002), ("/whoami", "GET", 401, 0.0004)] * 3
    calls += [("unmatched", "BREW", 404, 0.3), ("/orders/{id}", "PUT", 412, 7.0)]
    for route, method, status, seconds in calls:
        fast.observe_request(route, method, status, seconds)
        slow.requests.labels(route, method, str(status)).inc()
        slow.latency.labels(route, method).observe(seconds)
    assert _samples(fast) == _samples(slow)
    text = generate_latest(fast.registry).decode()
    assert 'node_http_requests_total{method="GET",route="/whoami",status="200"} 3.0' in text


def test_the_series_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_module, "MAX_CACHED_SERIES", 4)
    m = Metrics()
    for i in range(10):
        m.observe_request("unmatched", f"M{i}", 404, 0.001)
        m.observe_request("unmatched", f"M{i}", 404, 0.001)
    assert len(m._series) == 4
    for i in range(10):  # uncached series are still counted, through labels()
        assert m.requests.labels("unmatched", f"M{i}", "404")._value.get() == 2
