"""The one summary of ``make bench``: the parts' JSON reports in, one summary dict and its
markdown out. Pure: no process, no file, no clock (the orchestrator is ``loadtest.bench.suite``).

Each part's report becomes a section (``loadtest.bench.sections``): rows with the figures of
every target measured in the same run (this balancer, HAProxy, nginx, a bare aiohttp handler, one
node direct), the spread over rounds, the ratios, and a headline. Next to it, the machine's load
during the part, so that a reader can tell a noisy run. A part is *failed* when it exited with
another code than 0, wrote no report, or wrote one this module does not understand; its section
then says why, with the last lines of its stderr.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any

from loadtest.bench.sections import SECTIONS, Column

# Other work above this share of all cores during a part: the figures were measured on a shared
# machine and are flagged as noisy (the benchmark's own tree is not counted as other work).
NOISY = 0.25


def clean(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def part(run: Mapping[str, Any]) -> dict[str, Any]:
    """One part's summary from what the orchestrator recorded of it (``run_part``)."""
    name, report, code = run["name"], clean(run.get("report")), run.get("exit_code")
    machine = run.get("machine") or {}
    out: dict[str, Any] = {
        "name": name,
        "command": run.get("command", ""),
        "exit_code": code,
        "machine": machine,
        "noisy": machine.get("other_share", 0.0) > NOISY,
        "report_path": run.get("report_path"),
        "status": "ok",
        "reason": None,
        "title": SECTIONS[name].title if name in SECTIONS else name,
        "setup": None,
        "rows": [],
        "headline": None,
        "report": report,
    }
    if report is not None and name in SECTIONS:
        try:
            out.update(SECTIONS[name].read(report))
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            out["reason"] = f"report not understood: {type(exc).__name__}: {exc}"
    reasons = [
        f"exit code {code}" if code != 0 else None,
        "no report written" if report is None else None,
        out["reason"],
    ]
    if any(reasons):
        out["status"] = "failed"
        out["reason"] = "; ".join(r for r in reasons if r)
        out["stderr_tail"] = list(run.get("stderr_tail") or run.get("stdout_tail") or [])
    return out


def summarise(runs: Sequence[Mapping[str, Any]], *, started: str, quick: bool) -> dict[str, Any]:
    """The whole run: every part, in the order run, and whether all of them passed."""
    parts = [part(run) for run in runs]
    cores = next((p["machine"].get("cpu_count") for p in parts if p["machine"]), None)
    return {
        "started": started,
        "quick": quick,
        "cpu_count": cores,
        "ok": all(p["status"] == "ok" for p in parts),
        "parts": parts,
    }


def cell(template: str, row: Mapping[str, Any]) -> str:
    """One table cell: ``template`` formatted with the row, each missing (or None) value shown
    as ``–`` on its own, so that ``300 / –`` keeps the figure that was measured."""
    out = []
    for text, key, spec, _ in Formatter().parse(template):
        out.append(text)
        if key is None:
            continue
        try:
            out.append(format(row[key], spec or ""))
        except (KeyError, TypeError, ValueError):
            out.append("–")
    return "".join(out)


def table(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| " + " | ".join(header for header, _ in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(t, row) for _, t in columns) + " |" for row in rows]
    return lines


def _pct(share: Any) -> str:
    return f"{share * 100:.0f} %" if isinstance(share, int | float) else "–"


def load_line(machine: Mapping[str, Any]) -> str:
    """The machine during one part, in a sentence."""
    if not machine:
        return "machine load not recorded"
    before, after = machine["loadavg_before"][0], machine["loadavg_after"][0]
    return (
        f"load average {before:.2f} → {after:.2f}; all {machine['cpu_count']} cores "
        f"{_pct(machine['busy_share'])} busy (busiest second {_pct(machine['busy_share_max_1s'])})"
        f", this benchmark {_pct(machine['own_share'])}, other work "
        f"{_pct(machine['other_share'])}"
    )


def machine_table(parts: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for p in parts:
        m = p["machine"] or {}
        rows.append(
            {
                "name": p["name"],
                "status": p["status"] + (" (noisy)" if p["noisy"] else ""),
                "seconds": m.get("seconds"),
                "load": (
                    f"{m['loadavg_before'][0]:.2f} → {m['loadavg_after'][0]:.2f}" if m else None
                ),
                "busy": _pct(m.get("busy_share")),
                "peak": _pct(m.get("busy_share_max_1s")),
                "own": _pct(m.get("own_share")),
                "other": _pct(m.get("other_share")),
            }
        )
    columns = [
        ("part", "{name}"),
        ("status", "{status}"),
        ("seconds", "{seconds:.0f}"),
        ("load average (1 min) before → after", "{load}"),
        ("machine busy", "{busy}"),
        ("busiest second", "{peak}"),
        ("this benchmark", "{own}"),
        ("other work", "{other}"),
    ]
    return table(columns, rows)


def section(p: Mapping[str, Any]) -> list[str]:
    lines = [f"## {p['title']}", ""]
    if p["status"] != "ok":
        lines += [f"**FAILED**: {p['reason']}.", ""]
        if p.get("stderr_tail"):
            lines += ["```", *p["stderr_tail"], "```", ""]
    if p["setup"]:
        lines += [p["setup"] + ".", ""]
    lines += [f"Machine: {load_line(p['machine'])}" + (" (noisy)." if p["noisy"] else "."), ""]
    if p["rows"]:
        lines += [*table(SECTIONS[p["name"]].columns, p["rows"]), ""]
    if p["headline"]:
        lines += [f"**{p['headline']}**", ""]
    lines += [f"`{p['command']}`", ""]
    return lines


def markdown(summary: Mapping[str, Any]) -> str:
    """The summary as the markdown page ``make bench`` writes (``reports/bench.md``)."""
    parts = summary["parts"]
    failed = [p["name"] for p in parts if p["status"] != "ok"]
    verdict = f"failed: {', '.join(failed)}" if failed else "every part passed"
    lines = [
        f"# `make bench`, {summary['started']}",
        "",
        f"{len(parts)} part(s) on {summary['cpu_count'] or '?'} cores, one after the other; "
        f"{verdict}. Each table's targets were measured in the same run; compare within a table. "
        f"A part is flagged *noisy* when other work used more than {NOISY * 100:.0f} % of the "
        "machine while it ran.",
        "",
    ]
    if summary["quick"]:
        lines += ["Quick settings (`--quick`): short runs that prove the suite, not figures to "
                  "quote.", ""]  # fmt: skip
    lines += [*machine_table(parts), ""]
    for p in parts:
        lines += section(p)
    return "\n".join(lines).rstrip("\n") + "\n"
