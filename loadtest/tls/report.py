"""The tables of ``make tls`` (markdown, as the README shows them) and its figure. Pure but the
figure: rows in, lines out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODE_WORDS = {
    "full": "full",
    "resumed": "resumed",
    "keep-alive": "none (requests on one open connection)",
    "plain": "none: plain HTTP, new connections (another balancer, no TLS)",
}


def _figure(value: object, digits: int = 2) -> str:
    return (
        "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    )


def handshake_table(cells: list[dict[str, Any]]) -> list[str]:
    """One row per (version, mode): count, reused, time and the balancer's CPU."""
    lines = [
        "| TLS | handshake | connections | resumed | handshake ms p50 / p99 "
        "| balancer CPU µs per connection (keep-alive: per request) "
        "| less a request on an open connection |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = {c["version"]: c["cpu_us_per_request"] for c in cells if c["mode"] == "keep-alive"}
    for cell in cells:
        cpu, open_cost = cell["cpu_us_per_request"], base.get(cell["version"])
        extra = "–"
        if cell["mode"] in ("full", "resumed") and cpu is not None and open_cost is not None:
            extra = f"{cpu - open_cost:.0f}"
        timing = f"{_figure(cell['handshake_ms_median'])} / {_figure(cell['handshake_ms_p99'])}"
        count = cell["connections"]
        if cell["mode"] == "keep-alive":  # the CPU column is per request then
            count, timing = f"{count} ({cell['requests']} requests)", "–"
        elif cell["mode"] == "plain":
            timing = "–"
        reused = str(cell["reused"]) if cell["mode"] in ("full", "resumed") else "–"
        lines.append(
            f"| {cell['version']} | {MODE_WORDS[cell['mode']]} | {count} | {reused} | {timing} "
            f"| {_figure(cpu, 0)} | {extra} |"
        )
    return lines


def spread_line(cells: list[dict[str, Any]]) -> str:
    """Where the resumed connections were answered (``X-Served-By``)."""
    total: dict[str, int] = {}
    for cell in cells:
        if cell["mode"] == "resumed":
            for node, count in cell["served_by"].items():
                total[node] = total.get(node, 0) + count
    parts = ", ".join(f"{node} {count}" for node, count in sorted(total.items()))
    return f"resumed connections per node (X-Served-By): {parts} (of {sum(total.values())})"


def lifetime_table(offers: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| TLS | event | session resumed before | the same session after | "
        "a new session there resumes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in offers:
        before, after, control = (_yes(o[k]) for k in ("before", "after", "control"))
        lines.append(f"| {o['version']} | {o['event']} | {before} | {after} | {control} |")
    return lines


def _yes(value: bool) -> str:
    return "yes" if value else "**no** (full handshake)"


def draw(cells: list[dict[str, Any]], out: Path) -> None:
    """Handshake time and balancer CPU per connection, full against resumed, per version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in cells if c["mode"] in ("full", "resumed")]
    names = [f"TLS {c['version']} {c['mode']}" for c in shown]
    colors = ["#c44e52" if c["mode"] == "full" else "#55a868" for c in shown]
    fig, (times, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    times.barh(names, [c["handshake_ms_median"] or 0 for c in shown], color=colors)
    times.set_xlabel("handshake, ms (median, client side)")
    cpu.barh(names, [c["cpu_us_per_request"] or 0 for c in shown], color=colors)
    cpu.set_xlabel("balancer CPU µs per connection (handshake + one GET)")
    for plain in (c for c in cells if c["mode"] == "plain" and c["cpu_us_per_request"]):
        cpu.axvline(plain["cpu_us_per_request"], color="#4c72b0", linestyle="--")
        cpu.text(plain["cpu_us_per_request"], -0.6, " plain HTTP", color="#4c72b0", fontsize=8)
    for axis in (times, cpu):
        axis.invert_yaxis()
    fig.suptitle("TLS at the balancer: full against resumed handshakes")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
