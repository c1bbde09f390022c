"""The picture of ``make compare`` (PNG): losses, load per node, the scale-out, memory."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from loadtest.compare.table import MIB, Measured, per_node

COLOURS = {"stateless": "tab:green", "stateful+sticky": "tab:orange", "stateful": "tab:red"}


def _losses(ax: Axes, results: Sequence[Measured]) -> None:
    figures = ("failed", "sessions_lost", "items_lost")
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        xs = [x + i * width for x in range(len(figures))]
        ax.bar(xs, [r.count(f) for f in figures], width, label=r.variant,
               color=COLOURS.get(r.variant))  # fmt: skip
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(figures))],
                  ["failed requests", "sessions lost", "cart/order items lost"])  # fmt: skip
    ax.set_title("What the users lost")
    ax.legend()


def _spread(ax: Axes, results: Sequence[Measured]) -> None:
    nodes = sorted({n for r in results for n in per_node(r)})
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        spread = per_node(r)
        ax.bar([x + i * width for x in range(len(nodes))], [spread.get(n, 0) for n in nodes],
               width, label=r.variant, color=COLOURS.get(r.variant))  # fmt: skip
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(nodes))], nodes)
    ax.set_title("Answers per node (X-Served-By)")


def _new_node(ax: Axes, results: Sequence[Measured]) -> None:
    for r in results:
        if r.new_node is None or r.scaled_at is None:
            continue
        per_second: dict[int, int] = defaultdict(int)
        for second, node, n in r.served:
            if node == r.new_node:
                per_second[second] += n
        start = min(s for s, _, _ in r.served)
        xs = sorted(per_second)
        ax.plot([x - start for x in xs], [per_second[x] for x in xs], label=r.variant,
                color=COLOURS.get(r.variant))  # fmt: skip
        ax.axvline(r.scaled_at - start, color=COLOURS.get(r.variant), linestyle=":")
    ax.set_title("Answers/s of the node added mid-run (dotted: it is up)")
    ax.set_xlabel("s into the run")


def _memory(ax: Axes, results: Sequence[Measured]) -> None:
    for r in results:
        ax.scatter([s.sessions for s in r.samples], [s.rss / MIB for s in r.samples], s=8,
                   label=r.variant, color=COLOURS.get(r.variant))  # fmt: skip
    ax.set_xlabel("sessions held by the node")
    ax.set_ylabel("node RSS (MiB)")
    ax.set_title("Memory per node against the clients it holds")


def draw(results: Sequence[Measured], path: Path) -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    _losses(axes[0][0], results)
    _spread(axes[0][1], results)
    _new_node(axes[1][0], results)
    _memory(axes[1][1], results)
    fig.suptitle("Same users, chaos and duration: stateless vs the stateful twin")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
