"""What the live dashboard shows, computed from the pool and the counters. No I/O.

One ``View`` per balancer turns readings of the counters into rates: every ``tick`` (``live``
calls it twice a second) gives a document with each backend's tile (state, requests/s,
in-flight, totals, the last probe's outcome), the process's totals and the events since the
previous tick. A tile's state is the health state, except *frozen*: down because its probes
time out on a connection the kernel accepted (a SIGSTOPped process, a GC pause gone wrong),
which the balancer tells apart from *refused* (nothing listens: the process is dead).
"""

from __future__ import annotations

from collections.abc import Sequence

from balancer.counters import Counters
from balancer.events import EventLog
from balancer.health import State
from balancer.pool import Backend

Document = dict[str, object]
HISTORY = 50  # events a new viewer gets at once


def tile_state(backend: Backend) -> str:
    """up, down, draining, or frozen (down, and its last probe timed out after connecting)."""
    state = backend.state
    if state is State.DOWN and backend.probe == "timeout":
        return "frozen"
    return state.value


class View:
    """Rates between ticks, and the document a tick sends."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        self.seen = events.seq  # the last event sent
        self.at: float | None = None  # time of the last reading
        self.requests: dict[str, int] = {}  # url -> requests at the last reading
        self.retries = 0
        self.rate: dict[str, float] = {}  # url -> requests/s over the last interval
        self.retry_rate = 0.0

    def tick(self, backends: Sequence[Backend], counters: Counters, now: float) -> Document:
        """Read the counters at ``now``; the document with the events since the last tick."""
        if self.at is not None and now > self.at:
            span = now - self.at
            self.rate = {
                b.url: max(0, b.counts.requests - self.requests.get(b.url, b.counts.requests))
                / span
                for b in backends
            }
            self.retry_rate = max(0, counters.retries - self.retries) / span
        self.at, self.retries = now, counters.retries
        self.requests = {b.url: b.counts.requests for b in backends}
        fresh = self.events.since(self.seen)
        self.seen = self.events.seq
        return self.document(backends, counters, fresh)

    def first(self, backends: Sequence[Backend], counters: Counters) -> Document:
        """What a new viewer gets: the current tiles and the recent events."""
        recent = self.events.since(max(0, self.events.seq - HISTORY))
        return self.document(backends, counters, recent)

    def document(
        self, backends: Sequence[Backend], counters: Counters, events: list[dict[str, object]]
    ) -> Document:
        tiles = [
            {
                "name": b.name,
                "url": b.url,
                "state": tile_state(b),
                "probe": b.probe,
                "rps": round(self.rate.get(b.url, 0.0), 1),
                "in_flight": b.counts.in_flight,
                "requests": b.counts.requests,
                "failures": b.counts.failures,
                "ejections": b.counts.ejections,
                "warming": bool(b.warm_from),
            }
            for b in backends
        ]
        return {
            "backends": tiles,
            "rps": round(sum(self.rate.values()), 1),
            "in_flight": counters.active,
            "retries": counters.retries,
            "retries_per_s": round(self.retry_rate, 1),
            "events": events,
            "seq": self.events.seq,  # lower than a viewer saw: the balancer restarted
        }
