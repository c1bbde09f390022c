"""The figures of ``make demo SCENARIO=scale``: throughput and p95 per phase, and what broke. Pure.

The run has three phases (and the first seconds on the scaled-out pool, where slow start
would show), each measured from the balancer's per-second samples once the pool
has settled (``SETTLE`` seconds after a scale step ended): the starting node count, the scaled
out count, and the starting count again. Throughput should rise and p95 fall in the second;
nothing may fail in any.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.fullspeed.outcome import Lane
from loadtest.report import Sample

SETTLE = 3.0  # seconds after a step before its phase counts
RAMP = 5.0  # the window right after the scale-out (where slow start would show)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    seconds: float
    rps: float
    p95_ms: float


def _phase(name: str, samples: Sequence[Sample], start: float, end: float) -> Phase | None:
    inside = [s for s in samples if start <= s.ts <= end]
    p95s = [s.p95 for s in inside if s.p95 is not None]
    if not inside or not p95s:
        return None
    return Phase(name, end - start, statistics.mean(s.rps for s in inside), statistics.median(p95s))


def phases(
    samples: Sequence[Sample], events: Sequence[Mapping[str, Any]], end: float
) -> list[Phase]:
    """Before the scale-out, between the scale steps, after the scale-in."""
    if not samples:
        return []
    marks = {str(e["action"]): float(e["ts"]) for e in events}
    out_at, out_done = marks.get("scale-out", end), marks.get("scale-out done", end)
    in_at, in_done = marks.get("scale-in", end), marks.get("scale-in done", end)
    first = samples[0].ts
    last = min(end, samples[-1].ts)
    spans = [
        ("before the scale-out", first + 1, out_at),
        (f"first {RAMP:.0f} s on the new pool", out_done, out_done + RAMP),
        ("scaled out", out_done + SETTLE, in_at),
        ("scaled in again", in_done + SETTLE, last),
    ]
    found = [_phase(name, samples, start, stop) for name, start, stop in spans]
    return [p for p in found if p is not None]


def broken(
    lanes: Sequence[Lane], invariants: Sequence[tuple[str, bool, str]], same_balancer: bool
) -> list[str]:
    """Every way the run fell short: a wrong status, a socket error (a refused connection …),
    a broken invariant, a lane with nothing done, or a new balancer process."""
    problems = []
    for lane in lanes:
        if lane.wrong:
            shown = ", ".join(f"{n} × {code}" for code, n in sorted(lane.wrong.items()))
            problems.append(f"{lane.kind}: {shown}")
        if lane.errors:
            kinds = {k: n for k, n in lane.socket_errors.items() if n and k != "status"}
            problems.append(f"{lane.kind}: {lane.errors} socket errors {kinds}")
        if lane.requests == 0:
            problems.append(f"{lane.kind}: no request completed")
    problems += [f"invariant broken: {name}: {detail}" for name, ok, detail in invariants if not ok]
    if not same_balancer:
        problems.append("the balancer process changed during the run")
    return problems


def print_figures(
    lanes: Sequence[Lane],
    figures: Sequence[Phase],
    invariants: Sequence[tuple[str, bool, str]],
    problems: Sequence[str],
    same_balancer: bool,
) -> None:
    print("\n== scale under load ==")
    for lane in lanes:
        print(
            f"{lane.kind:<5} requests {lane.requests:>7}  {lane.requests_per_s:>7.0f} req/s  "
            f"p50 {lane.p50_ms:.1f} ms  p99 {lane.p99_ms:.1f} ms  statuses {dict(lane.statuses)}"
            f"  socket errors {dict(lane.socket_errors)}"
        )
    for phase in figures:
        print(f"phase {phase.name:<24} {phase.rps:7.0f} req/s  p95 {phase.p95_ms:6.1f} ms  "
              f"({phase.seconds:.0f} s, from the balancer's metrics)")  # fmt: skip
    print(f"same balancer process before and after: {'yes' if same_balancer else 'NO'}")
    for name, ok, detail in invariants:
        print(f"invariant: {name:<40} {'OK ' if ok else 'BROKEN'}  {detail}")
    for line in problems:
        print(f"BROKEN: {line}")
