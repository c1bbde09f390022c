"""One request's path through the balancer and the nodes, from their JSON log lines (pure).

What the logs hold (the only inputs; nothing here reads a file):

- every node writes one ``request`` line per request it handled (``nodes.middleware``):
  ``request_id``, ``node``, ``route``, ``method``, ``path``, ``status``, ``duration_ms`` and,
  when the balancer propagated one, ``trace`` (the ``traceparent`` or ``X-B3-TraceId`` value);
- the balancer writes a ``request`` line only for a request that did not simply succeed at
  the first try (``balancer.exchange``): ``request_id``, ``method``, ``path``, final
  ``status``, ``duration_ms`` and ``attempts``, one note per failed try
  (``try=1 backend=node-2 outcome=timeout then=retry``). The try that answered has no note.

Both lines are written when the request ends, so a start time is ``ts - duration_ms``. The
balancer sends the same ``X-Request-ID`` on every try, which is what links the lines: a trace id
is first turned into the request ids of the node lines that carry it. The balancer does not
hedge (one try at a time), so there are never two tries of one request in flight.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_NOTE = re.compile(r"try=(\d+) backend=(\S+) outcome=(\S+)(?: then=(\S+))?")
#: W3C ``traceparent``: version-traceid-parentid-flags.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


@dataclass(frozen=True, slots=True)
class Line:
    """One ``request`` log line of the balancer or of a node."""

    source: str  # the log file or container it came from
    service: str  # "balancer" or "node"
    ts: float  # when the line was written (the request's end), seconds since the epoch
    request_id: str
    status: int
    duration_ms: float
    method: str = ""
    path: str = ""
    node: str = ""
    route: str = ""
    trace: str = ""
    attempts: tuple[str, ...] = ()

    @property
    def start(self) -> float:
        return self.ts - self.duration_ms / 1000


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try: where it went, what the balancer saw, and the node's own line if it wrote one."""

    number: int
    backend: str
    outcome: str  # the balancer's outcome, or "answered" for the try that answered
    then: str  # "retry", "stop(…)", or "" for the try that answered
    node_line: Line | None = None


@dataclass(slots=True)
class Path:
    """Everything the logs say about one request id."""

    request_id: str
    balancer: Line | None = None
    nodes: list[Line] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def retries(self) -> int:
        return sum(1 for a in self.attempts if a.then == "retry")


def parse_ts(text: str) -> float:
    """``2026-12-01T12:00:01.234Z`` (``servicekit.jsonlog``) as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_line(text: str, source: str) -> Line | None:
    """The ``request`` line in ``text``, or ``None`` for any other line (or not JSON)."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("msg") != "request" or "request_id" not in entry:
        return None
    try:
        return _line(entry, source)
    except (TypeError, ValueError):
        return None


def _line(entry: dict[str, Any], source: str) -> Line:
    attempts = entry.get("attempts") or ()
    return Line(
        source=source,
        service=str(entry.get("service", "node" if "node" in entry else "balancer")),
        ts=parse_ts(str(entry["ts"])),
        request_id=str(entry["request_id"]),
        status=int(entry.get("status", 0)),
        duration_ms=float(entry.get("duration_ms", 0.0)),
        method=str(entry.get("method", "")),
        path=str(entry.get("path", "")),
        node=str(entry.get("node", "")),
        route=str(entry.get("route", "")),
        trace=str(entry.get("trace", "")),
        attempts=tuple(str(a) for a in attempts),
    )


def trace_ids(trace: str) -> set[str]:
    """The ids a ``trace`` field answers to: itself, and a traceparent's trace id."""
    ids = {trace} if trace else set()
    match = _TRACEPARENT.fullmatch(trace)
    if match:
        ids.add(match.group(1))
    return ids


def select(lines: list[Line], ident: str) -> list[Path]:
    """The paths of every request ``ident`` names: a request id, or a B3/W3C trace id."""
    wanted = {ident}
    wanted |= {line.request_id for line in lines if ident in trace_ids(line.trace)}
    found: dict[str, Path] = {}
    for line in sorted(lines, key=lambda item: item.start):
        if line.request_id not in wanted:
            continue
        path = found.setdefault(line.request_id, Path(line.request_id))
        if line.service == "balancer":
            path.balancer = line
        else:
            path.nodes.append(line)
    for path in found.values():
        path.attempts = attempts_of(path)
    return sorted(found.values(), key=_first_start)


def _first_start(path: Path) -> float:
    starts = [line.start for line in path.nodes]
    if path.balancer is not None:
        starts.append(path.balancer.start)
    return min(starts)


def attempts_of(path: Path) -> list[Attempt]:
    """The balancer's failed tries (from its notes), then the try that answered; node lines
    are matched to tries by node name, in order of their start."""
    unmatched = list(path.nodes)
    attempts: list[Attempt] = []
    notes = path.balancer.attempts if path.balancer else ()
    for note in notes:
        match = _NOTE.match(note)
        if match is None:
            continue  # "no backend to try"
        number, backend, outcome, then = match.groups()
        line = _take(unmatched, backend)
        attempts.append(Attempt(int(number), backend, outcome, then or "", line))
    # What answered: a node line no failed try claimed (the balancer does not note it).
    for line in unmatched:
        attempts.append(Attempt(len(attempts) + 1, line.node, "answered", "", line))
    return attempts


def _take(lines: list[Line], node: str) -> Line | None:
    for i, line in enumerate(lines):
        if line.node == node:
            return lines.pop(i)
    return None


def retried(lines: list[Line]) -> list[str]:
    """Request ids the balancer retried (a note saying ``then=retry``), oldest first."""
    return [
        line.request_id
        for line in sorted(lines, key=lambda item: item.start)
        if line.service == "balancer" and any("then=retry" in note for note in line.attempts)
    ]
