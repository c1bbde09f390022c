"""The capacity curve of logins, without I/O: what one open-loop step measured, and the table.

An open-loop step offers logins at a fixed rate for a fixed time, whatever the answers (a
closed loop would slow down with the server and hide the overload). Each answer is sorted:

- *served*: 200, with its latency;
- *shed*: 503 carrying ``X-Not-Processed: true`` or ``Retry-After`` — refused before any
  work, the client may try again later (the node's admission control, or the peer's queue);
- *failed*: anything else — a 5xx after the work may have started, a timeout, a reset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 0: no answer (timeout, reset, refused)
    seconds: float
    shed: bool = False  # a 503 that says nothing was processed


@dataclass(slots=True)
class Step:
    """One target at one offered rate."""

    target: str
    offered_per_s: float
    seconds: float
    answers: list[Answer] = field(default_factory=list)

    @property
    def served(self) -> list[float]:
        return sorted(a.seconds for a in self.answers if a.status == 200)

    @property
    def shed(self) -> int:
        return sum(1 for a in self.answers if a.status != 200 and a.shed)

    @property
    def failed(self) -> int:
        return sum(1 for a in self.answers if a.status != 200 and not a.shed)

    @property
    def served_per_s(self) -> float:
        return len(self.served) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(self.served, q) * 1000.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of values already sorted; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def is_shed(status: int, headers: dict[str, str]) -> bool:
    """A 503 that tells the client it may come back: nothing was processed, or when to retry."""
    lower = {k.lower(): v for k, v in headers.items()}
    return status == 503 and (
        lower.get("x-not-processed", "").lower() == "true" or "retry-after" in lower
    )


def table(steps: Sequence[Step]) -> str:
    """The markdown table of every step, by rate then target."""
    lines = [
        "| target | offered/s | served/s | p50 ms | p95 ms | p99 ms | shed | failed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in sorted(steps, key=lambda s: (s.offered_per_s, s.target)):
        p = [s.percentile_ms(q) for q in (50, 95, 99)]
        shown = ["–" if math.isnan(v) else f"{v:.0f}" for v in p]
        lines.append(
            f"| {s.target} | {s.offered_per_s:g} | {s.served_per_s:.1f} | "
            f"{' | '.join(shown)} | {s.shed} | {s.failed} |"
        )
    return "\n".join(lines)
