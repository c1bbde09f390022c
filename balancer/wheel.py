"""Many short deadlines, nearly all of them cancelled before they are due, on one loop timer.

The hedge delay of every request safe to send twice (``backup.Hedged``) is such a deadline:
armed when the try is sent, and almost always moot milliseconds later when its head comes. A
``loop.call_at`` and a ``cancel`` per request cost uvloop about 3 µs of the ~50 µs a request
costs in all (measured: 2.9 µs for the pair alone, and the handle is closed on the next loop
turn), so the deadlines share one timer instead: ``add`` appends to a queue, and cancelling is
the owner's business (it forgets which deadline it waits for; ``due`` then finds it stale).

The queue is in arrival order, and the deadlines of one process are nearly in that order (the
same delay, give or take its recomputation every 64 answers); one due behind a later one fires
late by that difference at most. After firing, the timer is re-armed no sooner than ``tick``
later, so it fires at most ``1 / tick`` times a second however many requests there are: a
deadline fires up to ``tick`` late (2 ms, a fifth of the shortest hedge delay). One met more
than ``late`` after it was due says the loop itself did not run meanwhile; its owner decides
what that means (``backup.Hedged.due``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol


class Due(Protocol):
    """What waits on the wheel: told when a deadline it was added with is due."""

    def due(self, when: float) -> None:
        """``when`` passed; stale when the owner has moved on (cancelled, or a newer one)."""


class Wheel:
    """One ``call_at`` timer for every deadline ``add``-ed to it."""

    __slots__ = ("_loop", "_queue", "_timer", "late", "tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = 0.002) -> None:
        self._loop = loop
        self.tick = tick
        self.late = 5 * tick  # a deadline met later than this: the process itself was stalled
        self._queue: deque[tuple[float, Due]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, when: float, owner: Due) -> None:
        self._queue.append((when, owner))
        if self._timer is None:
            self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        queue = self._queue
        now = self._loop.time()
        while queue and queue[0][0] <= now:
            when, owner = queue.popleft()
            owner.due(when)
        if queue:
            self._timer = self._loop.call_at(max(queue[0][0], now + self.tick), self._fire)
