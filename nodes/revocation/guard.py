"""Pure helpers that keep a down Redis from slowing the request path or flooding the log.

``Breaker`` is a small circuit breaker (state machine, no I/O, the caller passes the clock):

    closed ──N failures in a row──▶ open ──after open_for s──▶ half-open (one trial call)
      ▲                   ▲                                 │
      └─────success───────┼──────────────────────────────── ┤
                          └──failure (or no answer within open_for)

While it is open, calls fail at once instead of each one waiting for a connect or a timeout, so
a down Redis gives a fast 503 (or a fast fail-open accept). One trial call per ``open_for``
finds out when Redis is back.

``LogThrottle`` lets one line through per interval and counts what it held back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class Breaker:
    """Fail fast for ``open_for`` seconds after ``threshold`` failures in a row; then one trial.

    A threshold above one keeps a single slow call on a busy machine from failing every request
    for ``open_for``; a down Redis refuses connections at once, so it opens the breaker at once.
    """

    open_for: float
    threshold: int = 3
    state: BreakerState = BreakerState.CLOSED
    opened_at: float = 0.0
    failures: int = 0

    def allow(self, now: float) -> bool:
        """May a call go to Redis now? Moves open → half-open (one trial) when the time is up."""
        if self.state is BreakerState.CLOSED:
            return True
        # A trial lost without an answer (its request was cancelled) must not wedge the breaker
        # in half-open: after another ``open_for`` the next call is a new trial.
        if now - self.opened_at >= self.open_for:
            self.state = BreakerState.HALF_OPEN
            self.opened_at = now
            return True
        return False  # open, or half-open with the trial call still out

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0

    def failure(self, now: float) -> None:
        self.failures += 1
        # A failed trial reopens at once; a closed breaker waits for the threshold.
        if self.state is not BreakerState.CLOSED or self.failures >= self.threshold:
            self.state = BreakerState.OPEN
            self.opened_at = now


@dataclass
class LogThrottle:
    """At most one log line per ``every`` seconds; ``suppressed`` counts the lines held back."""

    every: float
    last: float | None = None
    suppressed: int = 0

    def take(self, now: float) -> int | None:
        """``None``: do not log. Otherwise log, mentioning the returned count held back since."""
        if self.last is not None and now - self.last < self.every:
            self.suppressed += 1
            return None
        held, self.suppressed, self.last = self.suppressed, 0, now
        return held
