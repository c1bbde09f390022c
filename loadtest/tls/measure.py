"""Handshakes measured in batches: full, resumed, and none (requests on an open connection).

Each batch is ``n`` connections of one TLS version, one GET each; the balancer's CPU over the
batch comes from ``/proc`` (clock ticks: 10 ms, so batches are summed over the rounds before
dividing). A resumed batch chains its sessions: each connection offers the session the previous
one left, as a client library does. The keep-alive batch sends ``n`` requests on one connection:
the balancer's cost of a request without a handshake, to tell the handshake's share. The plain
batch (version ``none``) is the same GET on new plain TCP connections to another balancer
process without TLS: what a connection costs without TLS at all.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loadtest.tls.client import client_context, keep_alive, plain_visit, visit

MODES = ("full", "resumed", "keep-alive")
Cpu = Callable[[], float]  # the balancer's CPU seconds so far


@dataclass(slots=True)
class Cell:
    """One (TLS version, mode) over all rounds."""

    version: str
    mode: str
    connections: int = 0
    requests: int = 0
    reused: int = 0
    cpu_s: float = 0.0
    handshakes_s: list[float] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "mode": self.mode,
            "connections": self.connections,
            "requests": self.requests,
            "reused": self.reused,
            "handshake_ms_median": _ms(statistics.median(self.handshakes_s))
            if self.handshakes_s
            else None,
            "handshake_ms_p99": _ms(percentile(self.handshakes_s, 99)),
            "cpu_us_per_request": round(self.cpu_s / self.requests * 1e6, 1)
            if self.requests
            else None,
            "served_by": dict(sorted(self.served_by.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 3)


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def plain_batch(cell: Cell, address: tuple[str, int], n: int, cpu: Cpu) -> None:
    """``n`` new plain TCP connections, one GET each, into ``cell``."""
    before = cpu()
    for _ in range(n):
        status, served_by = plain_visit(address)
        cell.statuses[status] += 1
        cell.served_by[served_by] += 1
    cell.cpu_s += cpu() - before
    cell.connections += n
    cell.requests += n


def run_batch(cell: Cell, cafile: Path, address: tuple[str, int], n: int, cpu: Cpu) -> None:
    """``n`` connections (or requests, keep-alive) into ``cell``, the balancer's CPU with them."""
    context = client_context(cafile, cell.version)
    if cell.mode == "keep-alive":
        before = cpu()
        served = keep_alive(context, address, n)
        cell.cpu_s += cpu() - before
        cell.connections += 1
        cell.requests += n
        cell.served_by.update(served)
        return
    # Primed outside the measured window: the first connection of a chain has nothing to offer.
    session = visit(context, address).session if cell.mode == "resumed" else None
    before = cpu()
    for _ in range(n):
        seen = visit(context, address, session if cell.mode == "resumed" else None)
        session = seen.session
        cell.reused += seen.reused
        cell.handshakes_s.append(seen.handshake_s)
        cell.served_by[seen.served_by] += 1
        cell.statuses[seen.status] += 1
    cell.cpu_s += cpu() - before
    cell.connections += n
    cell.requests += n


@dataclass(frozen=True, slots=True)
class Target:
    """A balancer to measure: its address and its CPU so far."""

    address: tuple[str, int]
    cpu: Cpu


def measure(
    cafile: Path, tls: Target, plain: Target, versions: tuple[str, ...], n: int, rounds: int
) -> list[Cell]:
    """Every (version, mode) cell and the plain baseline, interleaved round by round (so noise
    from the shared machine spreads evenly over them)."""
    cells = [Cell(version, mode) for version in versions for mode in MODES]
    baseline = Cell("none", "plain")
    for _ in range(rounds):
        for cell in cells:
            run_batch(cell, cafile, tls.address, n, tls.cpu)
        plain_batch(baseline, plain.address, n, plain.cpu)
    return [*cells, baseline]
