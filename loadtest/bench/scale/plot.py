"""``make bench-scale`` as a picture: requests/s against node count with the linear ideal, and
the efficiency X(N) / (N·X(1)), for this balancer and HAProxy, GET and keyed POST."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt

from loadtest.bench.scale.model import Point, efficiency

COLOURS = {"balancer": "tab:blue", "haproxy": "tab:orange"}
STYLE = {"get": "-", "post": "--"}
LABEL = {"get": "GET /whoami", "post": "keyed POST"}


def plot(points: Sequence[Point], path: Path, quota: float | None, runtime: str = "local") -> None:
    fig, (rate, eff) = plt.subplots(1, 2, figsize=(11, 4.4))
    counts = sorted({p.nodes for p in points})
    for lane in sorted({p.lane for p in points}):
        for front in sorted({p.front for p in points}):
            mine = sorted((p for p in points if p.front == front and p.lane == lane),
                          key=lambda p: p.nodes)  # fmt: skip
            if not mine:
                continue
            label = f"{front}, {LABEL[lane]}"
            style, colour = STYLE[lane], COLOURS[front]
            rate.plot([p.nodes for p in mine], [p.rps for p in mine], marker="o",
                      linestyle=style, color=colour, label=label)  # fmt: skip
            values = [efficiency(points, front, lane, p.nodes) for p in mine]
            eff.plot([p.nodes for p in mine], [100 * (v or 0) for v in values], marker="o",
                     linestyle=style, color=colour, label=label)  # fmt: skip
            if front == "balancer" and mine[0].nodes == 1:
                ideal = [mine[0].rps * n for n in counts]
                rate.plot(counts, ideal, color="grey", linestyle=style, alpha=0.6,
                          label=f"linear ideal N·X(1), {LABEL[lane]}")  # fmt: skip
    eff.axhline(90, color="tab:red", linestyle=":", label="target 90 %")
    limit = "cgroup quota" if runtime == "local" else "containers, --cpus"
    per_node = f"{quota:g} CPU per node ({limit})" if quota else "no CPU quota"
    rate.set(xlabel="nodes", ylabel="requests/s", title=f"throughput ({per_node})")
    top = max([115.0, *(100 * (efficiency(points, p.front, p.lane, p.nodes) or 0) + 10
                        for p in points)])  # fmt: skip
    eff.set(xlabel="nodes", ylabel="%", title="efficiency X(N) / (N·X(1))", ylim=(0, top))
    for axis in (rate, eff):
        axis.set_xticks(counts)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
