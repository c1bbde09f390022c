"""The capacity curve as a picture: logins served against logins offered, and p95 latency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt

from loadtest.bench.capacity import Step

COLOURS = {"balancer": "tab:blue", "haproxy": "tab:orange"}


def plot(steps: Sequence[Step], path: Path) -> None:
    fig, (served, latency) = plt.subplots(1, 2, figsize=(11, 4.2))
    rates = sorted({s.offered_per_s for s in steps})
    served.plot(rates, rates, color="grey", linestyle=":", label="offered (ideal)")
    for target in sorted({s.target for s in steps}):
        mine = sorted((s for s in steps if s.target == target), key=lambda s: s.offered_per_s)
        colour = COLOURS.get(target)
        x = [s.offered_per_s for s in mine]
        served.plot(x, [s.served_per_s for s in mine], marker="o", color=colour, label=target)
        failed = [s.offered_per_s for s in mine if s.failed]
        served.scatter(failed, [0] * len(failed), marker="x", color=colour, s=60)
        latency.plot(x, [s.percentile_ms(95) for s in mine], marker="o", color=colour,
                     label=f"{target} p95")  # fmt: skip
    served.set(xlabel="logins/s offered", ylabel="logins/s served",
               title="served (× on the axis: a step with failures)")  # fmt: skip
    latency.set(xlabel="logins/s offered", ylabel="ms", title="p95 latency of served logins")
    for axis in (served, latency):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
