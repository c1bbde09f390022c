"""The paradox run's figures, computed without I/O: percentiles, outage outcomes, the table.

A *sample* is one authenticated request of the outage phase: when it was answered (seconds
since the phase started), which token it carried (``valid`` or ``revoked``) and the status
(``0`` for no answer). What counts as a correct answer depends on the mode: ``none`` accepts a
logged-out token by design, so for it a revoked token answered 200 is normal behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    kind: str  # "valid" | "revoked"
    status: int  # 0: no answer (connection error or timeout)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by the nearest-rank method; ``None`` for no values."""
    if not values:
        return None
    ranked = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ranked)))
    return ranked[rank - 1]


def expected_status(mode: str, kind: str) -> int:
    """What a correct node answers: 200 to a valid token, 401 to a revoked one (not in none)."""
    return 200 if kind == "valid" or mode == "none" else 401


@dataclass(frozen=True, slots=True)
class Window:
    """Share of valid tokens served and of revoked tokens accepted in one time window."""

    valid: int
    valid_ok: int
    revoked: int
    revoked_accepted: int

    @property
    def valid_ok_pct(self) -> float | None:
        return 100.0 * self.valid_ok / self.valid if self.valid else None

    @property
    def revoked_accepted_pct(self) -> float | None:
        return 100.0 * self.revoked_accepted / self.revoked if self.revoked else None


def window(samples: Sequence[Sample], start: float, end: float) -> Window:
    inside = [s for s in samples if start <= s.t < end]
    valid = [s for s in inside if s.kind == "valid"]
    revoked = [s for s in inside if s.kind == "revoked"]
    return Window(
        valid=len(valid),
        valid_ok=sum(s.status == 200 for s in valid),
        revoked=len(revoked),
        revoked_accepted=sum(s.status == 200 for s in revoked),
    )


def recovery_seconds(
    mode: str, samples: Sequence[Sample], restart: float, end: float, ready: float | None
) -> float | None:
    """Seconds from the Redis restart until the mode behaves normally again, or ``None``.

    Normal: every answer correct from then on and every node ready and not stale (``ready``,
    the first time all of them said so). ``None`` when wrong answers last into the final
    quarter of the observed window or the nodes never became ready: not recovered.
    """
    if ready is None:
        return None
    wrong = [s.t for s in samples if s.t >= restart and s.status != expected_status(mode, s.kind)]
    last_wrong = max(wrong, default=restart)
    if wrong and last_wrong > end - (end - restart) / 4:
        return None
    return max(last_wrong, ready) - restart


@dataclass
class ModeResult:
    """Everything measured for one mode."""

    mode: str
    propagation_ms: list[float] = field(default_factory=list)  # per trial: slowest node
    never_rejected: int = 0  # trials in which some node still accepted at the deadline
    trials: int = 0
    rps: list[float] = field(default_factory=list)  # one per round
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    node_cpu_us: list[float] = field(default_factory=list)  # CPU µs per request, one per round
    redis_cpu_us: list[float] = field(default_factory=list)
    load_non_2xx: int = 0
    load_socket_errors: int = 0
    before: Window | None = None
    outage: Window | None = None
    after: Window | None = None
    recovery_s: float | None = None
    timeline: list[Sample] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # kill, restart, end


def _cpu_totals(result: ModeResult) -> list[float]:
    return [n + r for n, r in zip(result.node_cpu_us, result.redis_cpu_us, strict=True)]


def cpu_per_request(result: ModeResult) -> float | None:
    """Median CPU µs per request of node and Redis together."""
    return percentile(_cpu_totals(result), 50)


def cpu_cost(result: ModeResult, base: ModeResult | None) -> float | None:
    """Throughput lost against ``base``, in %, from CPU per request (req/s ∝ 1 / CPU).

    Paired by round (both modes ran one after the other, under the same neighbours), then the
    median over the rounds: a machine that is busier in one round than in another moves both
    sides of that round's ratio alike.
    """
    mine, theirs = _cpu_totals(result), _cpu_totals(base) if base else []
    ratios = [100.0 * (1.0 - t / m) for m, t in zip(mine, theirs, strict=False) if m > 0]
    return percentile(ratios, 50)


def best_run(result: ModeResult) -> tuple[float, float, float] | None:
    """(req/s, p50 ms, p99 ms) of the fastest round.

    Other processes on the machine can only slow a round down, never speed it up, so the best
    of interleaved rounds is the least disturbed estimate of what the mode costs.
    """
    if not result.rps:
        return None
    i = max(range(len(result.rps)), key=result.rps.__getitem__)
    return result.rps[i], result.p50_ms[i], result.p99_ms[i]


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{suffix}"


def propagation_cell(result: ModeResult, q: float) -> str:
    if result.trials and result.never_rejected == result.trials:
        return "never"
    text = _fmt(percentile(result.propagation_ms, q), 1)
    return f"{text} ({result.never_rejected} never)" if result.never_rejected else text


def table_rows(results: Sequence[ModeResult]) -> list[list[str]]:
    """One row per mode; the first row is the header. The cost is relative to mode none."""
    base = next((r for r in results if r.mode == "none"), None)
    rows = [
        [
            "mode",
            "revoked rejected everywhere p50/p99 ms",
            "req/s",
            "CPU µs/req",
            "cost vs none",
            "p50/p99 ms",
            "Redis down: valid OK",
            "Redis down: revoked accepted",
            "back to normal after restart",
        ]
    ]
    for r in results:
        rps, p50, p99 = best_run(r) or (None, None, None)
        outage = r.outage or Window(0, 0, 0, 0)
        rows.append(
            [
                r.mode,
                f"{propagation_cell(r, 50)} / {propagation_cell(r, 99)}",
                _fmt(rps),
                _fmt(cpu_per_request(r)),
                "baseline" if r.mode == "none" else _fmt(cpu_cost(r, base), 1, "%"),
                f"{_fmt(p50, 1)} / {_fmt(p99, 1)}",
                _fmt(outage.valid_ok_pct, 0, "%"),
                _fmt(outage.revoked_accepted_pct, 0, "%"),
                "not recovered" if r.recovery_s is None else _fmt(r.recovery_s, 2, " s"),
            ]
        )
    return rows


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (readable in a terminal, pasteable into the README)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)
