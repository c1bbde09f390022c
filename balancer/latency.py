"""Recent response-head latencies, and a high percentile of them (pure; for the hedge delay).

A fixed-bucket histogram, two generations of it: samples go to the current one; when it holds
``size`` samples it becomes the previous one and a new current one starts, so the percentile
always covers the last ``size`` to ``2 * size`` answers (well under a second at full speed, a
few minutes at a trickle). Recording is one ``bisect`` over the bucket bounds and an increment;
the percentile is recomputed every ``refresh`` samples (a walk over the buckets, about 10 µs)
and kept in ``value``, so reading it costs an attribute.

The buckets are log-spaced, four per octave (each bound 1.19 × the one before), from 0.25 ms to
about 13 s; a percentile is reported as its bucket's upper bound: at most 19 % above the true
value, never below it (a hedge a little late rather than a little early).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

#: Upper bounds (seconds) of the buckets; one more bucket holds everything above the last.
BOUNDS = tuple(0.00025 * 2 ** (i / 4) for i in range(64))


def percentile(counts: Sequence[int], quantile: float) -> float:
    """The upper bound of the bucket holding the ``quantile`` (0-1) of ``counts`` (per bucket of
    ``BOUNDS``, the overflow bucket last); 0.0 when there is no sample."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(quantile * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return BOUNDS[min(index, len(BOUNDS) - 1)]
    return BOUNDS[-1]  # not reached: ``seen`` ends at ``total``


class LatencyWindow:
    """The ``quantile`` of the recent latencies, in ``value`` (seconds; 0.0 before any)."""

    __slots__ = (
        "_current",
        "_left",
        "_previous",
        "_recorded",
        "quantile",
        "refresh",
        "size",
        "value",
    )

    def __init__(self, quantile: float, size: int = 1024, refresh: int = 64) -> None:
        self.quantile = quantile
        self.size = size
        self.refresh = refresh
        self._current = [0] * (len(BOUNDS) + 1)
        self._previous = [0] * (len(BOUNDS) + 1)
        self._recorded = 0  # samples in the current generation
        self._left = refresh  # samples until the percentile is recomputed
        self.value = 0.0

    def record(self, seconds: float) -> None:
        self._current[bisect_left(BOUNDS, seconds)] += 1
        self._left -= 1
        if self._left <= 0:
            self._update()

    def _update(self) -> None:
        self._left = self.refresh
        self._recorded += self.refresh
        current, previous = self._current, self._previous
        self.value = percentile(
            [a + b for a, b in zip(current, previous, strict=True)], self.quantile
        )
        if self._recorded >= self.size:  # the current generation is full: it becomes the old one
            self._previous, self._current = current, previous
            previous[:] = [0] * len(previous)
            self._recorded = 0
