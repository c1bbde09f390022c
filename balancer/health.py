"""The health state machine of one backend. No I/O: events in, state out.

States and transitions (``rise``/``fall``/``eject_after`` are thresholds of consecutive
results)::

            probe ok × rise                    probe 503 (readyz: draining)
    DOWN ─────────────────────▶ UP ───────────────────────────▶ DRAINING
     ▲  ◀──────────────────────  │                                 │
     │   probe failed × fall,    │                                 │ probe ok × rise ▶ UP
     │   a connect failure       │                                 │
     │   (at once), or           ▼                                 │
     └──── eject_after failed tries in a row (outlier) ◀───────────┘

Passive health tells *dead* from *slow* (Envoy's outlier detection on consecutive failures):

- a proxied request's connect failure (refused, unreachable, no handshake in time) means
  nothing listens there: a killed node. It ejects at once (``request_refused``);
- a per-try timeout or a reset on a connection the backend *accepted* is evidence of
  slowness as much as of death (a login queued behind scrypt hashes answers at 5 s). One such
  failed try ejects nothing; ``eject_after`` of them in a row, with no answer in between
  (``request_failed``), do. Any answer (``request_ok``) resets the streak: a node that
  answers, however slowly, is alive;
- a frozen node (SIGSTOP: the kernel still completes handshakes) answers nothing, so its
  ``/readyz`` probes fail and take it out within ``fall`` probe intervals, sooner than any
  per-try timeout would have;
- the same holds of probes: a probe that *timed out* while the backend kept answering proxied
  requests since the previous probe (``probe_slow``) is slow, not dead, and is not counted.
  Measured on Docker under a login flood at machine load 5: a node that was answering hundreds
  of requests a second was ejected by two probes just over ``BALANCER_HEALTH_TIMEOUT``. A
  frozen node answers nothing, so at most one of its probes is forgiven (the one whose interval
  held answers from before the freeze).

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
    eject_after: int = 3  # failed tries in a row (timeouts, resets) that eject: the outlier rule
    state: State = State.DOWN
    good: int = 0  # consecutive good probes while not UP
    bad: int = 0  # consecutive failed probes while UP or DRAINING
    streak: int = 0  # consecutive failed tries on accepted connections, no answer in between
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

    def probe_slow(self) -> bool:
        """The probe timed out, yet proxied requests got answers since the previous probe:
        alive and busy. Nothing is counted either way (never a state change)."""
        self.good = 0
        return False

    def request_refused(self, now: float) -> bool:
        """A proxied request could not connect: nothing listens there, out at once."""
        self.good = 0
        self.last_failure = now
        if self.state is State.DOWN:
            return False
        return self._move(State.DOWN)

    def request_failed(self, now: float) -> bool:
        """A try on an accepted connection timed out or was reset: out after a streak."""
        self.good = 0
        self.last_failure = now
        if self.state is State.DOWN:
            return False
        self.streak += 1
        if self.streak >= self.eject_after:
            return self._move(State.DOWN)
        return False

    def request_ok(self) -> None:
        """A proxied request got an answer (any status): the backend is alive."""
        self.streak = 0

    def _move(self, state: State) -> bool:
        self.state = state
        self.good = 0
        self.bad = 0
        self.streak = 0
        return True
