"""What one full-speed run measured, and whether it held (pure).

wrk's script (``load.lua``) prints two JSON lines when it is done: the count of answers per
status code and wrk's own socket errors. ``parse_script_output`` reads them; ``Lane`` is one wrk
process (GETs or keyed creates); ``verdict`` lists every broken promise of the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_STATUSES, _ERRORS, _SENT = "fullspeed-statuses ", "fullspeed-errors ", "fullspeed-sent "
#: Each must have acted at least once for the run to count.
CHAOS_ACTIONS = ("kill", "term", "stop")


class ScriptOutputError(ValueError):
    """wrk printed no line of the script's summary: the script or wrk failed."""


@dataclass(frozen=True, slots=True)
class Lane:
    """One wrk process: its kind, figures from wrk's report, and the script's counts."""

    kind: str  # "get" or "post"
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    statuses: Mapping[int, int] = field(default_factory=dict)
    socket_errors: Mapping[str, int] = field(default_factory=dict)
    sent: int = 0

    @property
    def in_flight(self) -> int:
        """Requests still unanswered when wrk stopped: their outcome is unknown to the client."""
        return max(0, self.sent - sum(self.statuses.values()))

    @property
    def ok_status(self) -> int:
        """The status every answer of this lane must have."""
        return 200 if self.kind == "get" else 201

    @property
    def wrong(self) -> dict[int, int]:
        return {code: n for code, n in self.statuses.items() if code != self.ok_status}

    @property
    def errors(self) -> int:
        # wrk's "status" error is the count of non-2xx/3xx answers, already in ``wrong``.
        return sum(n for kind, n in self.socket_errors.items() if kind != "status")


def parse_script_output(text: str) -> tuple[dict[int, int], dict[str, int], int]:
    """``(answers per status code, socket errors per kind, requests made)`` from wrk's output."""
    statuses: dict[int, int] | None = None
    errors: dict[str, int] | None = None
    sent = 0
    for line in text.splitlines():
        if line.startswith(_SENT):
            sent = int(line[len(_SENT) :])
        if line.startswith(_STATUSES):
            statuses = {int(k): int(v) for k, v in json.loads(line[len(_STATUSES) :]).items()}
        elif line.startswith(_ERRORS):
            errors = {str(k): int(v) for k, v in json.loads(line[len(_ERRORS) :]).items()}
    if statuses is None or errors is None:
        raise ScriptOutputError(f"wrk printed no summary of its script:\n{text[-2000:]}")
    return statuses, errors, sent


def unacknowledged_verdict(unacknowledged: int, in_flight: int) -> tuple[bool, str]:
    """Orders that exist with no 201 seen: only requests in flight at wrk's stop may explain
    them (the client never read an answer); any more means a create answered with an error."""
    if unacknowledged <= in_flight:
        return True, f"{unacknowledged} created by the {in_flight} requests in flight at the stop"
    return False, f"{unacknowledged} listed that no client saw acknowledged; {in_flight} in flight"


def verdict(
    lanes: Sequence[Lane],
    invariants: Sequence[tuple[str, bool, str]],
    chaos: Mapping[str, int],
    required: Sequence[str] = CHAOS_ACTIONS,
) -> list[str]:
    """Every way the run fell short: a wrong status, a socket error, a broken invariant, or
    a chaos action of ``required`` that did not act (a run without its faults proves nothing)."""
    broken = [f"chaos: no {a}" for a in required if not chaos.get(a)]
    for lane in lanes:
        if lane.wrong:
            shown = ", ".join(f"{n} × {code}" for code, n in sorted(lane.wrong.items()))
            broken.append(f"{lane.kind}: {shown}")
        if lane.errors:
            kinds = {k: n for k, n in lane.socket_errors.items() if n and k != "status"}
            broken.append(f"{lane.kind}: {lane.errors} socket errors {kinds}")
        if lane.requests == 0:
            broken.append(f"{lane.kind}: no request completed")
    broken.extend(
        f"invariant broken: {name}: {detail}" for name, ok, detail in invariants if not ok
    )
    return broken
