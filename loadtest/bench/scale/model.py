"""``make bench-scale``'s figures, from what was measured. Pure: no process, no clock.

For each node count N and each front (this balancer, HAProxy) and lane (GET /whoami, keyed
POSTs): requests/s X(N), p50/p99, efficiency X(N) / (N·X(1)), and the CPU each part used as a
share of what it can use. The bottleneck is the part nearest its ceiling: the nodes (their N
quotas), the front (one core: this balancer is one event loop; HAProxy's threads are counted
against the machine), Redis (one core), the load generator (wrk, one thread: one core), or the
machine itself: every process's CPU (``/proc/stat``, the run's parts and whatever else runs on
a shared machine) against its cores. When the machine is saturated, a part's quota is a ceiling
it may not reach, and the row says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PARTS = ("nodes", "front", "redis", "wrk")


@dataclass(frozen=True, slots=True)
class Point:
    """One measurement: ``front`` in front of ``nodes`` nodes, ``lane`` load, for ``seconds``."""

    front: str  # "balancer" | "haproxy"
    lane: str  # "get" | "post"
    nodes: int
    rps: float  # successful answers per second (200 for GET, 201 for POST)
    p50_ms: float
    p99_ms: float
    errors: int
    seconds: float
    cpu: Mapping[str, float] = field(default_factory=dict)  # part -> CPU seconds used
    statuses: Mapping[int, int] = field(default_factory=dict)  # answers per status code

    def wrong(self) -> str:
        """The answers that were not the lane's success (``503 × 12``), or ``0``."""
        ok = 200 if self.lane == "get" else 201
        bad = {code: n for code, n in sorted(self.statuses.items()) if code != ok}
        shown = ", ".join(f"{code} × {n}" for code, n in bad.items())
        if self.errors > sum(bad.values()):
            shown = ", ".join(filter(None, (shown, f"{self.errors - sum(bad.values())} socket")))
        return shown or "0"


def capacity(part: str, nodes: int, quota: float | None, cores: int) -> float:
    """How many cores ``part`` can use at most (a node without quota: the machine's)."""
    if part == "nodes":
        return nodes * quota if quota else float(cores)
    if part == "front":
        return 1.0  # one event loop (HAProxy may use more threads: the machine bounds it)
    return 1.0  # Redis and wrk -t1: one thread each


def others(point: Point) -> float:
    """Cores used by processes outside the run (0 when the machine's total was not read)."""
    total = point.cpu.get("all")
    if total is None:
        return 0.0
    return max(0.0, total - sum(point.cpu.get(part, 0.0) for part in PARTS)) / point.seconds


def utilisation(point: Point, quota: float | None, cores: int) -> dict[str, float]:
    """Each part's CPU as a share of its capacity, and the machine's (all processes / cores)."""
    used = {part: point.cpu.get(part, 0.0) / point.seconds for part in PARTS}
    shares = {part: used[part] / capacity(part, point.nodes, quota, cores) for part in PARTS}
    shares["machine"] = (sum(used.values()) + others(point)) / cores
    return shares


def bottleneck(point: Point, quota: float | None, cores: int) -> str:
    """The part nearest its ceiling, with its share: ``nodes 97 %``."""
    shares = utilisation(point, quota, cores)
    part = max(shares, key=lambda p: shares[p])
    return f"{part} {shares[part] * 100:.0f} %"


def efficiency(points: Sequence[Point], front: str, lane: str, nodes: int) -> float | None:
    """X(N) / (N·X(1)) for one front and lane; None when a point is missing."""
    by_n = {p.nodes: p.rps for p in points if p.front == front and p.lane == lane}
    if 1 not in by_n or nodes not in by_n or by_n[1] <= 0:
        return None
    return by_n[nodes] / (nodes * by_n[1])


def node_us_per_request(point: Point) -> float:
    """The nodes' CPU per successful request (µs): a node's capacity is its quota over this."""
    served = point.rps * point.seconds
    return point.cpu.get("nodes", 0.0) / served * 1e6 if served else 0.0


def table(points: Sequence[Point], quota: float | None, cores: int) -> list[str]:
    """The Markdown table the README shows, one row per measurement."""
    rows = [
        "| front | load | nodes | req/s | p50 ms | p99 ms | efficiency | errors | "
        "CPU: nodes / front / Redis / wrk / other work (cores) | node CPU µs/req | bottleneck |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in sorted(points, key=lambda p: (p.lane, p.front, p.nodes)):
        eff = efficiency(points, p.front, p.lane, p.nodes)
        used = [p.cpu.get(part, 0.0) / p.seconds for part in PARTS]
        cpu = " / ".join(f"{value:.2f}" for value in [*used, others(p)])
        lane = "GET /whoami" if p.lane == "get" else "keyed POST"
        rows.append(
            f"| {p.front} | {lane} | {p.nodes} | {p.rps:.0f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} | "
            f"{'-' if eff is None else f'{eff * 100:.0f} %'} | {p.wrong()} | {cpu} | "
            f"{node_us_per_request(p):.0f} | {bottleneck(p, quota, cores)} |"
        )
    return rows
