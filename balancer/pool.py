"""The backends: their health and idle keep-alive connections.

``Pool`` owns the list (from ``BALANCER_BACKENDS``, then changed at run time by
``PUT /_lb/backends`` or kept in step with DNS, both through ``discovery.apply``) and applies
the pure decisions of ``pick`` and ``health`` to it. A new backend starts DOWN: it is probed
(``rise`` good probes) before it gets traffic. A backend that leaves the list is *retired*: it
gets no new requests and is dropped once its in-flight requests are done (``reap``). Each
backend's counters are a ``counters.BackendCounters`` it holds; every change of health or
membership is also an entry in ``events`` (the live dashboard's feed).

Slow start (``slow_start``: Envoy's ``slow_start_window``, HAProxy's ``slowstart``): a backend
that has just come UP gets a share of its round-robin turns that grows linearly from 0 to all
of them over the window; the turns it passes go to the next backend. Off by default: measured
with ``make bench-scale``'s scale-up probe, it did not help these nodes (docs/balancer.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable

from balancer.counters import BackendCounters
from balancer.events import GONE, HEALTH, POOL, EventLog
from balancer.health import Health, State
from balancer.pick import least_recently_failed, round_robin
from balancer.retry import EJECT_AT_ONCE, Outcome
from balancer.seams import Upstream

log = logging.getLogger("balancer.pool")

MAX_IDLE = 64  # idle keep-alive connections kept per backend
# Idle connections older than this are not reused: a backend may close an idle connection
# (aiohttp: after 75 s) just as a request is sent on it, which would look like a reset.
IDLE_TTL = 30.0


class Backend:
    """One backend: where it is, what the state machine says, what it has served."""

    __slots__ = (
        "answers_at_probe",
        "authority",
        "counts",
        "credit",
        "health",
        "host",
        "idle",
        "name",
        "port",
        "probe",
        "retired",
        "served_by",
        "url",
        "warm_from",
    )

    def __init__(self, url: str, rise: int, fall: int, eject_after: int = 3) -> None:
        self.url = url
        hostport = url.removeprefix("http://")
        host, _, port = hostport.rpartition(":")
        self.host, self.port = host, int(port)
        self.authority = hostport.encode()  # Host header for clients that sent none
        self.name = hostport  # replaced by the node's name from X-Served-By
        self.served_by = b""  # the raw header last learnt from
        self.health = Health(rise=rise, fall=fall, eject_after=eject_after)
        self.counts = BackendCounters()
        self.retired = False
        self.idle: list[Upstream] = []
        # The last probe's outcome: "ok", "draining", "timeout" (connected, no answer: frozen),
        # "refused", "connect-timeout", "status 500" …; "" before the first one.
        self.probe = ""
        self.answers_at_probe = 0  # counts.answers when the last probe ended (see probes)
        self.warm_from = 0.0  # monotonic time slow start began (0: not ramping)
        self.credit = 0.0  # slow start: share of turns earned and not yet taken

    @property
    def state(self) -> State:
        return State.DRAINING if self.retired else self.health.state

    def learn_name(self, served_by: bytes) -> None:
        self.served_by = served_by
        name = served_by.decode("latin-1").strip()
        if name and name != self.name and len(name) <= 100:
            self.name = name

    def take_idle(self) -> Upstream | None:
        """The most recently used idle connection that is still fresh, if any."""
        idle = self.idle
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable() and now - conn.idle_since < IDLE_TTL:
                return conn
            conn.close()
        return None

    def give_back(self, conn: Upstream) -> None:
        conn.resume()
        if self.retired or len(self.idle) >= MAX_IDLE or not conn.reusable():
            conn.close()
        else:
            conn.idle_since = time.monotonic()
            self.idle.append(conn)

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close()


class Pool:
    """The backend list and the round-robin cursor."""

    def __init__(
        self,
        urls: Iterable[str],
        rise: int,
        fall: int,
        eject_after: int = 3,
        slow_start: float = 0.0,
    ) -> None:
        self.rise, self.fall, self.eject_after = rise, fall, eject_after
        self.slow_start = slow_start
        self.backends: list[Backend] = [Backend(url, rise, fall, eject_after) for url in urls]
        self._cursor = 0
        self._eligible: list[bool] = []
        self.events = EventLog()
        self.wake: Callable[[], None] = lambda: None  # starts a probe round early (``app``)
        self.refresh()

    def refresh(self) -> None:
        """Recompute who may get traffic; call after any health or membership change."""
        self._eligible = [b.health.state is State.UP and not b.retired for b in self.backends]

    def pick(self, tried: Collection[Backend] = ()) -> Backend | None:
        """The next up backend in round-robin order, skipping the ones ``tried``."""
        backends = self.backends
        skip = [i for i, b in enumerate(backends) if b in tried] if tried else ()
        index, self._cursor = round_robin(self._eligible, self._cursor, skip)
        if index is None:
            return None
        backend = backends[index]
        return self._ramped(backend, skip) if backend.warm_from else backend

    def _ramped(self, backend: Backend, skip: Collection[int]) -> Backend:
        """Slow start: ``backend`` takes this turn only with the credit it earned so far;
        otherwise the next backend that may does (and when none may, ``backend`` after all)."""
        passed = list(skip)
        while True:
            share = (time.monotonic() - backend.warm_from) / self.slow_start
            if share >= 1.0:
                backend.warm_from = 0.0  # ramp over: full weight
                return backend
            backend.credit += share
            if backend.credit >= 1.0:
                backend.credit -= 1.0
                return backend
            passed.append(self.backends.index(backend))
            index, cursor = round_robin(self._eligible, self._cursor, passed)
            if index is None:
                return backend
            self._cursor, backend = cursor, self.backends[index]
            if not backend.warm_from:
                return backend

    def fallback(self, tried: Collection[Backend] = ()) -> Backend | None:
        """When nothing is up: the live backend that failed least recently."""
        backends = self.backends
        skip = {i for i, b in enumerate(backends) if b.retired or b in tried}
        index = least_recently_failed([b.health.last_failure for b in backends], skip)
        return None if index is None else backends[index]

    def has_other(self, tried: Collection[Backend]) -> bool:
        """Whether an up backend remains that was not tried yet."""
        return any(
            b.health.state is State.UP and not b.retired and b not in tried for b in self.backends
        )

    def any_up(self) -> bool:
        return any(self._eligible)

    def try_failed(self, backend: Backend, outcome: Outcome, request_id: str = "") -> None:
        """Passive health: a try saw a connect failure (out at once), or a reset or timeout
        (one more in the outlier streak; see ``health``)."""
        counts = backend.counts
        counts.failures += 1
        health = backend.health
        now = time.monotonic()
        at_once = outcome in EJECT_AT_ONCE
        if at_once:
            ejected = health.request_refused(now)
        else:
            streak = health.streak + 1
            ejected = health.request_failed(now)
        if ejected:
            counts.ejections += 1
            if not at_once:
                counts.outlier_ejections += 1
            self.refresh()
            self.events.add(
                HEALTH, backend=backend.name, url=backend.url, to="down", why=outcome.value
            )
            log.warning(
                "backend ejected",
                extra={
                    "backend": backend.name,
                    "url": backend.url,
                    "reason": outcome.value if at_once else f"{streak} x {outcome.value} in a row",
                    "request_id": request_id,
                },
            )
        if at_once or outcome is Outcome.RESET or ejected:
            backend.close_idle()  # its other idle connections are likely as dead

    def health_changed(self, backend: Backend, before: State, why: str) -> None:
        """A probe moved ``backend`` (``probes``): who gets traffic now, the event, and slow
        start when it came up from down."""
        after = backend.health.state
        if after is State.UP and before is State.DOWN and self.slow_start > 0:
            backend.warm_from, backend.credit = time.monotonic(), 0.0
        self.refresh()
        fields = {"backend": backend.name, "url": backend.url, "from": before.value}
        self.events.add(HEALTH, **fields, to=after.value, why=why)

    def sync(self, urls: Iterable[str], source: str = "dns") -> tuple[list[str], list[str]]:
        """Make the list match ``urls``: new ones start down (probed before they get traffic),
        gone ones retire (drained: no new requests, dropped once idle). ``source`` (``dns``,
        ``api``) is for the event."""
        wanted = list(dict.fromkeys(urls))
        known = {b.url: b for b in self.backends}
        added = [u for u in wanted if u not in known]
        retired = [b.url for b in self.backends if b.url not in wanted and not b.retired]
        for url in wanted:
            if url in known and known[url].retired:
                known[url].retired = False
                known[url].health = Health(self.rise, self.fall, self.eject_after)  # re-probe
                known[url].counts.ejections = 0  # as when Health counted them (kept as it was)
        for backend in self.backends:
            if backend.url not in wanted:
                backend.retired = True
        self.backends.extend(Backend(u, self.rise, self.fall, self.eject_after) for u in added)
        if added or retired:
            self.events.add(POOL, source=source, added=added, removed=retired)
        self.reap()
        self.refresh()
        if added:
            self.wake()
        return added, retired

    def reap(self) -> None:
        """Drop retired backends with nothing in flight."""
        keep = []
        for backend in self.backends:
            if backend.retired and backend.counts.in_flight == 0:
                backend.close_idle()
                self.events.add(GONE, backend=backend.name, url=backend.url)
                log.info("retired backend drained", extra={"url": backend.url})
            else:
                keep.append(backend)
        if len(keep) != len(self.backends):
            self.backends = keep
            self._cursor = 0
            self.refresh()
