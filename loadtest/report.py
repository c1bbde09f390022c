"""The run's report: one timeline joining Locust's history, the chaos log and the balancer.

Inputs: Locust's ``*_stats_history.csv`` (``--csv-full-history``; the ``Aggregated`` rows give
requests/s, failures/s and the current p95 every second), the chaos-kill JSON lines, and the
balancer's ``/_lb/status`` at the end (per-node request counters). Output: ``timeline.png``
(matplotlib, Agg backend) and ``report.html``, self-contained (the PNG is embedded).
"""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from cluster.actions import Event

#: The chaos events drawn on the timeline (skips and failures are in the table only).
ACTION_STYLE: dict[str, tuple[str, Literal["-", ":"]]] = {
    Event.KILL: ("tab:red", "-"),
    Event.TERM: ("tab:orange", "-"),
    Event.STOP: ("tab:purple", "-"),
    Event.CONT: ("tab:purple", ":"),
    Event.RESTART: ("tab:blue", ":"),
    Event.READY: ("tab:green", ":"),
    # make demo SCENARIO=scale: a step starts (solid) and the pool has settled (dotted).
    "scale-out": ("tab:olive", "-"),
    "scale-out done": ("tab:olive", ":"),
    "scale-in": ("tab:brown", "-"),
    "scale-in done": ("tab:brown", ":"),
}
#: The events labelled with their signal and target: what took a node down, or scaled the pool.
LABELLED = (Event.KILL, Event.TERM, Event.STOP, "scale-out", "scale-in")


@dataclass(frozen=True, slots=True)
class Sample:
    ts: float
    users: int
    rps: float
    fails: float
    p95: float | None
    total: int
    failures: int


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # Locust writes "N/A" before the first response


def read_history(path: Path) -> list[Sample]:
    """The ``Aggregated`` rows of a Locust stats-history CSV, in time order."""
    samples = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("Name") != "Aggregated":
                continue
            samples.append(
                Sample(
                    ts=float(row["Timestamp"]),
                    users=int(float(row["User Count"] or 0)),
                    rps=_num(row["Requests/s"]) or 0.0,
                    fails=_num(row["Failures/s"]) or 0.0,
                    p95=_num(row.get("95%", "N/A")),
                    total=int(float(row["Total Request Count"] or 0)),
                    failures=int(float(row["Total Failure Count"] or 0)),
                )
            )
    return sorted(samples, key=lambda s: s.ts)


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def node_spread(lb_status: Mapping[str, Any]) -> dict[str, int]:
    """Requests per backend name, from the balancer's counters."""
    return {str(b["name"]): int(b.get("requests", 0)) for b in lb_status.get("backends", [])}


def plot(
    samples: Sequence[Sample],
    events: Sequence[Mapping[str, Any]],
    spread: Mapping[str, int],
    out: Path,
) -> None:
    """Three timeline panels (requests/s, failures/s, p95) with chaos marks, and the spread."""
    t0 = samples[0].ts if samples else min((e["ts"] for e in events), default=0.0)
    xs = [s.ts - t0 for s in samples]
    fig = plt.figure(figsize=(12, 10), constrained_layout=True)
    grid = fig.add_gridspec(4, 1, height_ratios=[3, 2, 2, 2])
    rps = fig.add_subplot(grid[0])
    fails = fig.add_subplot(grid[1], sharex=rps)
    p95 = fig.add_subplot(grid[2], sharex=rps)
    rps.plot(xs, [s.rps for s in samples], color="tab:blue", label="requests/s")
    rps.set_ylabel("requests/s")
    fails.plot(xs, [s.fails for s in samples], color="tab:red", label="failures/s")
    fails.set_ylabel("failures/s")
    fails.set_ylim(bottom=0, top=max([1.0, *[s.fails * 1.2 for s in samples]]))
    p95.plot(xs, [s.p95 if s.p95 is not None else float("nan") for s in samples], color="k")
    p95.set_ylabel("p95 (ms)")
    p95.set_xlabel("seconds since the load started")
    for event in events:
        if event.get("action") not in ACTION_STYLE:
            continue  # skips and failures are in the table, not on the timeline
        color, style = ACTION_STYLE[str(event["action"])]
        x = float(event["ts"]) - t0
        for axis in (rps, fails, p95):
            axis.axvline(x, color=color, linestyle=style, linewidth=1.2, alpha=0.8)
        if event.get("action") in LABELLED:
            label = f"{event.get('signal')} {event.get('target')}"
            rps.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                         va="top", ha="right", fontsize=8, color=color)  # fmt: skip
    rps.set_title("Load through the balancer, with every chaos action and scale step marked")
    marks = [Line2D([], [], color=c, linestyle=st, label=a) for a, (c, st) in ACTION_STYLE.items()]
    rps.legend(handles=marks, loc="lower right", fontsize=8, ncol=len(marks))
    bars = fig.add_subplot(grid[3])
    names = sorted(spread)
    bars.bar(names, [spread[n] for n in names], color="tab:cyan")
    for index, name in enumerate(names):
        bars.annotate(str(spread[name]), (index, spread[name]), ha="center", va="bottom")
    bars.set_ylim(0, max([1, *spread.values()]) * 1.2)  # room for the labels
    bars.set_ylabel("requests")
    bars.set_title("Requests per node (balancer counters)")
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(
    summary: Mapping[str, Any],
    invariants: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    spread: Mapping[str, int],
    png: bytes,
) -> str:
    """A self-contained page: summary, invariants, the timeline image, chaos log, spread."""
    image = base64.b64encode(png).decode()
    t0 = summary.get("started", 0)
    chaos_rows = [
        (f"{float(e['ts']) - t0:.1f}", e["action"], e.get("target") or "", e.get("signal") or "")
        for e in events
    ]
    verdict = "PASS" if summary.get("ok") else "FAIL"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stateless-cluster demo: {verdict}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px}}
.PASS{{color:green}}.FAIL{{color:red}}img{{max-width:100%}}</style></head><body>
<h1>stateless-cluster demo: <span class="{verdict}">{verdict}</span></h1>
{_table(["figure", "value"], [(k, v) for k, v in summary.items() if k != "started"])}
<h2>Invariants</h2>
{_table(["invariant", "holds", "detail"],
        [(i["name"], "yes" if i["ok"] else "NO", i["detail"]) for i in invariants])}
<h2>Timeline</h2><img alt="timeline" src="data:image/png;base64,{image}">
<h2>Chaos actions</h2>
{_table(["t (s)", "action", "target", "signal"], chaos_rows)}
<h2>Requests per node</h2>
{_table(["node", "requests"], sorted(spread.items()))}
<p>Locust's own report: <a href="locust.html">locust.html</a></p>
</body></html>
"""  # fmt: skip


def build(
    out_dir: Path,
    history_csv: Path,
    events_file: Path,
    lb_status: Mapping[str, Any],
    summary: Mapping[str, Any],
    invariants: Sequence[Mapping[str, Any]],
) -> Path:
    """Write ``timeline.png`` and ``report.html`` into ``out_dir``; return the HTML path."""
    samples = read_history(history_csv) if history_csv.exists() else []
    return build_from_samples(out_dir, samples, read_events(events_file), lb_status, summary,
                              invariants)  # fmt: skip


def build_from_samples(
    out_dir: Path,
    samples: Sequence[Sample],
    events: Sequence[Mapping[str, Any]],
    lb_status: Mapping[str, Any],
    summary: Mapping[str, Any],
    invariants: Sequence[Mapping[str, Any]],
) -> Path:
    """``build`` from samples already made (``loadtest.lbsample``: the balancer's metrics)."""
    spread = node_spread(lb_status)
    png = out_dir / "timeline.png"
    plot(samples, events, spread, png)
    started = samples[0].ts if samples else summary.get("started", 0)
    page = render_html({**summary, "started": started}, invariants, events, spread,
                       png.read_bytes())  # fmt: skip
    report = out_dir / "report.html"
    report.write_text(page)
    return report
