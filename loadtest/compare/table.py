"""The figures of ``make compare``, from what the runs measured (pure: no I/O, no clock).

Each run leaves a ``Measured``: the users' counters (``locustfile``), the answers per second
and node (``X-Served-By``), samples of each node's resident memory and sessions, and when the
scale-out happened. Everything shown is read from those; nothing is estimated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

VARIANTS = ("stateless", "stateful+sticky", "stateful")
MIB = 1 << 20
BALANCER = "balancer"  # the X-Served-By of the balancer's own answers


@dataclass(frozen=True, slots=True)
class Sample:
    """One node at one moment: resident memory (``/proc``) and sessions (its ``/metrics``)."""

    t: float
    node: str
    rss: int
    sessions: int


@dataclass(slots=True)
class Measured:
    variant: str
    counts: Mapping[str, Any]
    samples: list[Sample] = field(default_factory=list)
    scaled_at: float | None = None  # epoch seconds when the new node was up
    new_node: str | None = None
    scale_seconds: float | None = None

    def count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def served(self) -> list[tuple[int, str, int]]:
        """``(second, node, answers)`` from the users' tally."""
        out = []
        for key, n in dict(self.counts.get("served", {})).items():
            second, _, node = str(key).partition(" ")
            out.append((int(second), node, int(n)))
        return sorted(out)


def per_node(measured: Measured, since: float | None = None) -> dict[str, int]:
    """Answers per node (after ``since``, when given)."""
    spread: Counter[str] = Counter()
    for second, node, n in measured.served:
        if node == BALANCER:
            continue  # the balancer's own answers (it gave up): counted as failures already
        if since is None or second >= since:
            spread[node] += n
    return dict(sorted(spread.items()))


def new_node_share(measured: Measured) -> float | None:
    """The share of answers after the scale-out that the new node gave (None: no scale-out)."""
    if measured.scaled_at is None or measured.new_node is None:
        return None
    after = per_node(measured, since=measured.scaled_at)
    total = sum(after.values())
    return after.get(measured.new_node, 0) / total if total else 0.0


def skew(spread: Mapping[str, int]) -> float:
    """The busiest node's answers over the mean (1.0: even)."""
    values = list(spread.values())
    return max(values) / (sum(values) / len(values)) if values and sum(values) else 0.0


def memory(measured: Measured) -> tuple[float, int]:
    """The largest node's peak resident memory (MiB) and the most sessions one node held.

    No growth figure: nodes restarted by chaos start small, so first-to-last would measure
    their start-up, not their sessions (the picture plots every sample instead)."""
    if not measured.samples:
        return 0.0, 0
    return max(s.rss for s in measured.samples) / MIB, max(s.sessions for s in measured.samples)


def rows(results: Sequence[Measured]) -> list[tuple[str, list[str]]]:
    """The table: one row per figure, one column per variant."""

    def each(render: Any) -> list[str]:
        return [str(render(r)) for r in results]

    def share(r: Measured) -> str:
        value = new_node_share(r)
        return "no scale-out" if value is None else f"{value:.0%} ({r.new_node})"

    return [
        ("requests", each(lambda r: r.count("requests"))),
        ("failed requests", each(lambda r: r.count("failed"))),
        ("users forced to log in again", each(lambda r: r.count("users_forced_to_log_in"))),
        ("sessions lost (401s)", each(lambda r: r.count("sessions_lost"))),
        ("items acknowledged", each(lambda r: r.count("items_acked"))),
        ("items lost (cart or order)", each(lambda r: r.count("items_lost"))),
        ("logins", each(lambda r: r.count("logins"))),
        ("answers per node", each(lambda r: " ".join(f"{n}={c}" for n, c in per_node(r).items()))),
        ("busiest node / mean", each(lambda r: f"{skew(per_node(r)):.2f}")),
        ("new node's share after scale-out", each(share)),
        (
            "scale-out took (s)",
            each(lambda r: f"{r.scale_seconds:.1f}" if r.scale_seconds else "-"),
        ),
        ("peak node RSS (MiB)", each(lambda r: f"{memory(r)[0]:.1f}")),
        ("most sessions on one node", each(lambda r: memory(r)[1])),
    ]


def render(results: Sequence[Measured]) -> str:
    """The table as Markdown (the README's), the variants as columns."""
    lines = ["| | " + " | ".join(r.variant for r in results) + " |",
             "| --- |" + " --- |" * len(results)]  # fmt: skip
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows(results)]
    return "\n".join(lines)


def closing_line(measured: Measured) -> str:
    """``<variant>: requests N, failed N, sessions lost N`` (the contract's closing line)."""
    return (
        f"{measured.variant}: requests {measured.count('requests')}, "
        f"failed {measured.count('failed')}, sessions lost {measured.count('sessions_lost')}"
    )
