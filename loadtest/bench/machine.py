"""How busy the machine was while a benchmark ran, so that a reader can tell a noisy run.

``Watch`` is started before a part and stopped after it: the load average at both ends, the
busy share of every core from ``/proc/stat`` (the whole part, and the busiest one-second sample
of it), and the share the benchmark's own process tree used (``getrusage(RUSAGE_CHILDREN)``:
the part and every descendant it waited for). What is left, busy minus own, is other work on a
shared machine. ``busy_share`` is pure and unit-tested on ``/proc/stat`` text.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC_STAT = Path("/proc/stat")


def jiffies(text: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all cores from ``/proc/stat``'s first line; idle and iowait
    are not busy, steal and guest are not counted twice (guest is inside user)."""
    fields = [int(v) for v in text.split("\n", 1)[0].split()[1:9]]
    total = sum(fields)
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return total - idle, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share (0-1) of the machine's cores that were busy between two samples."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total > 0 else 0.0


def _read() -> tuple[int, int]:
    try:
        return jiffies(PROC_STAT.read_text())
    except OSError:  # no /proc (not Linux): the share reads 0, the load average still tells
        return 0, 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(slots=True)
class Watch:
    """The machine's load over one part; ``sample()`` about once a second while it runs."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    loadavg_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    started: float = field(default_factory=time.monotonic)
    first: tuple[int, int] = field(default_factory=_read)
    own_before: float = field(default_factory=_children_cpu)
    last: tuple[int, int] = (0, 0)
    samples: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last = self.first

    def sample(self) -> None:
        now = _read()
        if now[1] - self.last[1] > 0:
            self.samples.append(busy_share(self.last, now))
        self.last = now

    def stop(self) -> dict[str, Any]:
        """The part's figures, as they go into its JSON (shares of all cores, 0-1)."""
        self.sample()
        seconds = time.monotonic() - self.started
        busy = busy_share(self.first, self.last)
        own = (_children_cpu() - self.own_before) / (seconds * self.cores) if seconds else 0.0
        return {
            "cpu_count": self.cores,
            "seconds": seconds,
            "loadavg_before": list(self.loadavg_before),
            "loadavg_after": list(os.getloadavg()),
            "busy_share": busy,
            "busy_share_max_1s": max(self.samples, default=busy),
            "own_share": own,
            "other_share": max(0.0, busy - own),
        }
