"""The health state machine of one backend. No I/O: events in, state out.

States and transitions (``rise``/``fall`` are thresholds of consecutive results)::

            probe ok × rise                    probe 503 (readyz: draining)
    DOWN ─────────────────────▶ UP ───────────────────────────▶ DRAINING
     ▲  ◀──────────────────────  │                                 │
     │   probe failed × fall,    │                                 │ probe ok × rise ▶ UP
     │   or a proxied request's  │                                 │
     │   connect failure, reset  ▼                                 │
     └──────── or timeout (at once: ejection) ◀────────────────────┘

A new backend starts DOWN, so it is probed before it gets traffic. DRAINING gets no new
requests; the ones in flight finish. Leaving UP or DRAINING for DOWN is an ejection: the methods
that can eject return True exactly then, and the caller counts it (``counters``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAINING = "draining"


@dataclass(slots=True)
class Health:
    """Health of one backend; every method returns True when the state changed."""

    rise: int = 2
    fall: int = 2
    state: State = State.DOWN
    good: int = 0  # consecutive good probes while not UP
    bad: int = 0  # consecutive failed probes while UP or DRAINING
    last_failure: float = 0.0  # monotonic time of the last failure seen (0: never)

    def probe_ok(self) -> bool:
        self.bad = 0
        if self.state is State.UP:
            return False
        self.good += 1
        if self.good >= self.rise:
            return self._move(State.UP)
        return False

    def probe_draining(self) -> bool:
        """``/readyz`` answered 503: no new requests from now on."""
        self.good = 0
        if self.state is State.UP:
            return self._move(State.DRAINING)
        return False

    def probe_failed(self, now: float) -> bool:
        """The probe could not connect, timed out, or got an unexpected answer."""
        self.good = 0
        self.last_failure = now
        if self.state is State.DOWN:
            return False
        self.bad += 1
        if self.bad >= self.fall:
            return self._move(State.DOWN)
        return False

    def request_failed(self, now: float) -> bool:
        """A proxied request saw a connect failure, reset or timeout: out at once."""
        self.good = 0
        self.last_failure = now
        if self.state is State.DOWN:
            return False
        return self._move(State.DOWN)

    def _move(self, state: State) -> bool:
        self.state = state
        self.good = 0
        self.bad = 0
        return True
