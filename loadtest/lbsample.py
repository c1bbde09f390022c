"""The balancer's own view of a run, second by second, from its Prometheus text. Pure.

A full-speed run is driven by wrk, which reports only at its end; the timeline of
``make demo SCENARIO=scale`` is read from the balancer instead: every second the scenario
scrapes ``/_lb/metrics`` (``Reading``), and ``samples`` turns successive readings into the
report's ``Sample`` rows: requests/s, 5xx/s and p95 from the latency histogram's buckets
(linear within a bucket, so as fine as the buckets: 10, 25, 50, 100, 250 ms …), and the
requests/s of each node.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadtest.report import Sample

_LINE = re.compile(r"^(\w+)(?:\{([^}]*)\})? ([0-9.e+-]+|\+Inf|NaN)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class Reading:
    ts: float
    responses: float = 0.0
    errors: float = 0.0  # 5xx answers
    buckets: tuple[tuple[float, float], ...] = ()  # (upper bound s, cumulative count)
    nodes: dict[str, float] = field(default_factory=dict)  # backend name -> requests


def parse(text: str, ts: float) -> Reading:
    responses = errors = 0.0
    buckets: list[tuple[float, float]] = []
    nodes: dict[str, float] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name, raw_labels, raw_value = match.groups()
        labels = dict(_LABEL.findall(raw_labels or ""))
        value = float(raw_value)
        if name == "balancer_responses_total":
            responses += value
            errors += value if labels.get("code", "").startswith("5") else 0.0
        elif name == "balancer_request_duration_seconds_bucket":
            buckets.append((float(labels["le"]), value))
        elif name == "balancer_backend_requests_total":
            nodes[labels.get("backend", "?")] = value
    return Reading(ts, responses, errors, tuple(buckets), nodes)


def quantile_ms(before: Reading, after: Reading, q: float) -> float | None:
    """The ``q`` quantile (ms) of the requests answered between two readings."""
    old = dict(before.buckets)
    deltas = [(le, count - old.get(le, 0.0)) for le, count in after.buckets]
    total = deltas[-1][1] if deltas else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for le, cumulative in deltas:
        if cumulative >= rank:
            if le == float("inf"):
                return lower * 1000
            share = (rank - below) / max(cumulative - below, 1e-9)
            return (lower + (le - lower) * share) * 1000
        lower, below = le, cumulative
    return lower * 1000


def samples(readings: Sequence[Reading], connections: int) -> list[Sample]:
    """One ``Sample`` per pair of successive readings (``users``: wrk's connections)."""
    rows = []
    for before, after in itertools.pairwise(readings):
        span = after.ts - before.ts
        if span <= 0:
            continue
        rows.append(
            Sample(
                ts=after.ts,
                users=connections,
                rps=(after.responses - before.responses) / span,
                fails=(after.errors - before.errors) / span,
                p95=quantile_ms(before, after, 0.95),
                total=int(after.responses),
                failures=int(after.errors),
            )
        )
    return rows


def node_rates(readings: Sequence[Reading]) -> list[tuple[float, dict[str, float]]]:
    """Requests/s of each node between successive readings."""
    rates = []
    for before, after in itertools.pairwise(readings):
        span = after.ts - before.ts
        if span > 0:
            rates.append((after.ts, {n: (c - before.nodes.get(n, c)) / span
                                     for n, c in after.nodes.items()}))  # fmt: skip
    return rates
