"""The balancer's recent events, numbered, for the live dashboard. No I/O.

What the balancer sees itself is recorded where it happens: a backend's health changing
(probes, passive ejections), the pool changing (``PUT /_lb/backends``, DNS), a retired backend
leaving once drained. What it cannot see, a chaos action, is POSTed to ``/_lb/events`` by
``chaos-kill``. The log keeps the last ``keep`` entries; a reader asks for those after the last
sequence number it saw (``since``), so a dashboard that reconnects misses nothing still kept.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: Event kinds (``kind``): what the dashboard colours and the timeline marks.
HEALTH = "health"  # a backend's state changed: from, to, why
POOL = "pool"  # the backend list changed: added, removed (source: api | dns)
GONE = "gone"  # a retired backend finished its in-flight requests and left
CHAOS = "chaos"  # posted by chaos-kill: action, target, signal

Entry = dict[str, object]


class EventLog:
    """A bounded, numbered list of events (``seq`` grows by one per event, from 1)."""

    __slots__ = ("clock", "entries", "seq")

    def __init__(self, keep: int = 200, clock: Callable[[], float] = time.time) -> None:
        self.entries: deque[tuple[int, Entry]] = deque(maxlen=keep)
        self.seq = 0
        self.clock = clock

    def add(self, kind: str, **fields: object) -> Entry:
        """Record one event; its ``seq``, ``ts`` (Unix seconds) and ``kind`` come first."""
        self.seq += 1
        entry: Entry = {"seq": self.seq, "ts": round(self.clock(), 3), "kind": kind, **fields}
        self.entries.append((self.seq, entry))
        return entry

    def since(self, seq: int) -> list[Entry]:
        """The entries after ``seq`` that are still kept, oldest first."""
        return [entry for number, entry in self.entries if number > seq]
