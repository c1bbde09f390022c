"""The figure of ``make bloat``: header bytes against each server's measured limit, and what
each token costs the node (req/s and CPU per request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(throughput: list[dict[str, Any]], limit_rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["target"] for row in throughput]
    fig, (sizes, rates) = plt.subplots(1, 2, figsize=(13, 5.5))
    sizes.barh(names, [row["header_bytes"] for row in throughput], color="#4c72b0")
    sizes.set_xscale("log")
    sizes.set_xlabel("Authorization header line (bytes, log)")
    for i, row in enumerate(limit_rows):
        sizes.axvline(row["accepted"], color=f"C{i + 1}", linestyle="--", label=row["server"])
    sizes.legend(fontsize=7, loc="lower right", title="largest header passed")
    sizes.invert_yaxis()
    loaded = [row for row in throughput if "rps" in row]
    rates.barh([r["target"] for r in loaded], [r["rps"] for r in loaded], color="#55a868")
    rates.set_xlabel("req/s (one node, wrk -t1 -c32)")
    for i, row in enumerate(loaded):
        rates.text(row["rps"], i, f" {row['cpu_us']:.0f} µs/req", va="center", fontsize=8)
    rates.invert_yaxis()
    fig.suptitle("Token bloat: what a fat JWT costs and where it breaks")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
