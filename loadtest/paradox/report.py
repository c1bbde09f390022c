"""The paradox report: ``table.md``, ``results.json``, two PNG figures and ``index.html``."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from loadtest.paradox.stats import (
    ModeResult,
    best_run,
    percentile,
    render_table,
    table_rows,
)

COLORS = {
    "none": "#8c8c8c",
    "denylist": "#d62728",
    "denylist-fail-open": "#ff7f0e",
    "cached": "#2ca02c",
}


def _bars(ax: Any, results: Sequence[ModeResult], values: list[float | None], title: str) -> None:
    names = [r.mode for r in results]
    heights = [v or 0.0 for v in values]
    bars = ax.bar(names, heights, color=[COLORS.get(n, "#1f77b4") for n in names])
    for bar, value in zip(bars, values, strict=True):
        label = "n/a" if value is None else f"{value:.3g}"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=8)  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelsize=8, rotation=15)


def _cpu(ax: Any, results: Sequence[ModeResult]) -> None:
    names = [r.mode for r in results]
    node = [percentile(r.node_cpu_us, 50) or 0.0 for r in results]
    redis = [percentile(r.redis_cpu_us, 50) or 0.0 for r in results]
    ax.bar(names, node, color="#1f77b4", label="node")
    ax.bar(names, redis, bottom=node, color="#d62728", label="its Redis")
    for x, (n, r) in enumerate(zip(node, redis, strict=True)):
        ax.annotate(f"{n + r:.0f}", (x, n + r), ha="center", va="bottom", fontsize=8)
    ax.set_title("CPU µs per authenticated request (median of rounds)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8, rotation=15)
    ax.legend(fontsize=8)


def _outage(ax: Any, results: Sequence[ModeResult]) -> None:
    names = [r.mode for r in results]
    xs = range(len(names))
    valid = [r.outage.valid_ok_pct or 0.0 if r.outage else 0.0 for r in results]
    revoked = [r.outage.revoked_accepted_pct or 0.0 if r.outage else 0.0 for r in results]
    ax.bar([x - 0.2 for x in xs], valid, width=0.4, color="#2ca02c", label="valid served")
    ax.bar([x + 0.2 for x in xs], revoked, width=0.4, color="#d62728", label="revoked accepted")
    ax.set_xticks(list(xs), names, fontsize=8, rotation=15)
    ax.set_ylim(0, 110)
    ax.set_title("Redis down: % of requests answered 200", fontsize=10)
    ax.legend(fontsize=8)


def summary_figure(results: Sequence[ModeResult], path: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    rps = [best[0] if (best := best_run(r)) else None for r in results]
    _bars(axes[0][0], results, rps, "authenticated req/s, one node (best round)")
    _cpu(axes[0][1], results)
    p99 = [
        None if r.trials and r.never_rejected == r.trials else percentile(r.propagation_ms, 99)
        for r in results
    ]
    _bars(axes[1][0], results, p99, "revoked token rejected by every node, p99 ms (n/a: never)")
    _outage(axes[1][1], results)
    fig.suptitle("The JWT revocation paradox, measured")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rates(result: ModeResult, kind: str, step: float) -> tuple[list[float], list[float]]:
    """Per ``step`` seconds: the share of ``kind`` requests answered 200."""
    end = result.marks.get("end", 0.0)
    xs, ys = [], []
    t = 0.0
    while t < end:
        inside = [s for s in result.timeline if t <= s.t < t + step and s.kind == kind]
        if inside:
            xs.append(t + step / 2)
            ys.append(100.0 * sum(s.status == 200 for s in inside) / len(inside))
        t += step
    return xs, ys


def outage_figure(results: Sequence[ModeResult], path: Path, step: float = 0.1) -> None:
    fig, axes = plt.subplots(len(results), 1, figsize=(11, 2.2 * len(results)), sharex=True,
                             squeeze=False)  # fmt: skip
    for ax, result in zip(axes[:, 0], results, strict=True):
        for kind, color in (("valid", "#2ca02c"), ("revoked", "#d62728")):
            xs, ys = _rates(result, kind, step)
            ax.plot(xs, ys, color=color, label=f"{kind} tokens answered 200 (%)")
        for mark, style in (("kill", "--"), ("restart", ":")):
            if mark in result.marks:
                ax.axvline(result.marks[mark], color="black", linestyle=style, linewidth=1)
        ax.set_ylim(-5, 105)
        ax.set_title(f"{result.mode}: Redis killed (--), restarted (:)", fontsize=9)
    axes[0][0].legend(fontsize=8, loc="center left")
    axes[-1][0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html_table(rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(
    results: Sequence[ModeResult], out: Path, settings: dict[str, Any], notes: Sequence[str]
) -> Path:
    """Write every artefact into ``out``; return the HTML page's path."""
    out.mkdir(parents=True, exist_ok=True)
    rows = table_rows(results)
    (out / "table.md").write_text(render_table(rows) + "\n")
    data = {
        "settings": settings,
        "results": [
            {k: v for k, v in dataclasses.asdict(r).items() if k != "timeline"} for r in results
        ],
    }
    (out / "results.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    summary_figure(results, out / "paradox.png")
    outage_figure(results, out / "outage.png")
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>The JWT revocation paradox</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:4px 8px;font-size:90%}}
</style></head><body>
<h1>Why does JWT revocation create a problem?</h1>
<p>A JWT is checked with a key alone: no node needs to remember anything. Taking a token back
before its <code>exp</code> needs shared state again. Each mode below pays for it differently:
in throughput, in the time a logged-out token keeps working, or in what happens when Redis
goes away.</p>
{_html_table(rows)}
<ul>{items}</ul>
<h2>Summary</h2><img src="paradox.png" alt="summary figures" width="100%">
<h2>Redis killed under load, then restarted</h2><img src="outage.png" alt="outage timelines"
width="100%">
<p>Settings: <code>{html.escape(json.dumps(settings))}</code></p>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index
