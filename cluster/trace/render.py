"""The text and JSON forms of a request's path (pure)."""

from __future__ import annotations

from typing import Any

from cluster.trace.path import Attempt, Line, Path

_HEAD = f"  {'try':>3}  {'node':<10} {'start':>10} {'took ms':>9}  {'balancer saw':<16} {'then':<14} node logged"  # noqa: E501


def _offset(line: Line | None, origin: float) -> str:
    return f"+{(line.start - origin) * 1000:.1f}" if line is not None else "-"


def _took(line: Line | None) -> str:
    return f"{line.duration_ms:.1f}" if line is not None else "-"


def _logged(attempt: Attempt) -> str:
    line = attempt.node_line
    if line is None:
        return "no line (killed, frozen, or never reached)"
    return f"{line.status} {line.method} {line.route or line.path}"


def _row(attempt: Attempt, origin: float) -> str:
    line = attempt.node_line
    return (
        f"  {attempt.number:>3}  {attempt.backend:<10} {_offset(line, origin):>10} "
        f"{_took(line):>9}  {attempt.outcome:<16} {attempt.then or '-':<14} {_logged(attempt)}"
    )


def _summary(path: Path) -> str:
    tries, retries = len(path.attempts), path.retries
    counted = f"{tries} {'try' if tries == 1 else 'tries'}, {retries} {'retry' if retries == 1 else 'retries'}"  # noqa: E501
    if path.balancer is None:
        return (
            f"  balancer: no line (it logs a request only when it needed more than one try); "
            f"{counted}"
        )
    return f"  balancer: {path.balancer.status} after {path.balancer.duration_ms:.1f} ms, {counted}"


def _origin(path: Path) -> float:
    starts = [line.start for line in path.nodes]
    if path.balancer is not None:
        starts.append(path.balancer.start)
    return min(starts)


def text(path: Path) -> str:
    """A request's path as a small table: each try, node, outcome, timing, retries."""
    first = path.balancer or path.nodes[0]
    traces = sorted({line.trace for line in path.nodes if line.trace})
    title = f"request {path.request_id}  {first.method} {first.path}"
    if traces:
        title += f"  (trace {', '.join(traces)})"
    origin = _origin(path)
    rows = [_row(attempt, origin) for attempt in path.attempts]
    return "\n".join([title, _summary(path), _HEAD, *rows])


def as_json(path: Path) -> dict[str, Any]:
    origin = _origin(path)
    return {
        "request_id": path.request_id,
        "status": path.balancer.status if path.balancer else None,
        "duration_ms": path.balancer.duration_ms if path.balancer else None,
        "retries": path.retries,
        "attempts": [
            {
                "try": a.number,
                "node": a.backend,
                "outcome": a.outcome,
                "then": a.then or None,
                "node_status": a.node_line.status if a.node_line else None,
                "start_ms": round((a.node_line.start - origin) * 1000, 1) if a.node_line else None,
                "duration_ms": a.node_line.duration_ms if a.node_line else None,
            }
            for a in path.attempts
        ],
    }
