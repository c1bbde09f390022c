"""The exchange's hedging half: a second try beside a slow one, and the race between them.

``Hedged`` is the base of ``exchange.Exchange`` (between it and ``relay.Relay``). The exchange's
own try is the *primary* (``conn``, ``backend``); when it has sent a request that is safe to
send twice, it puts its hedge deadline (``Proxy.hedge_delay`` from now) on the process's
``wheel.Wheel`` (one loop timer for all of them). If the primary's head comes first, the
deadline is forgotten (``hedge_at`` = 0): that is all a request that is not hedged pays. If it
comes due and ``hedge.decide`` agrees, a ``Backup`` try is sent to another backend; from then
on two tries run and:

- the first head that ``hedge.discardable`` keeps wins: the other try is cancelled (its
  connection detached and closed, its backend's ``in_flight`` decremented; cancelling says
  nothing about its backend's health). A backup that wins is *promoted*: its connection now
  reports to the exchange (``Upstream.rebind``), which relays as if it had been its only try;
- a discardable head (502, 503, a keyed write's "in progress" 409) ends its own try only: the
  other one answers instead, nothing is relayed yet;
- a try that fails (reset, garbage, connect failure, timeout) ends alone, feeding passive
  health as any failed try does, and the other runs on (a backup is promoted).

Like the exchange, no coroutine: ``Backup`` is the second try's ``UpstreamEvents`` and
``Connecting``, passing each event to the exchange with itself.
"""

from __future__ import annotations

import enum

from balancer import hedge
from balancer.context import Proxy
from balancer.pool import Backend
from balancer.relay import Relay
from balancer.request import Request
from balancer.retry import PASSIVE, Outcome, is_shed
from balancer.seams import ClientSide, Connecting, Headers, Upstream


class TryState(enum.Enum):
    RUNNING = "running"  # the hedge, beside the exchange's own try
    PROMOTED = "promoted"  # it became the exchange's own try (the other one ended)
    DROPPED = "dropped"  # cancelled, failed, or its head discarded


class Backup:
    """The hedge of a request: the second try, on another backend."""

    __slots__ = ("backend", "conn", "deadline", "owner", "sent", "state")

    def __init__(self, owner: Hedged, backend: Backend) -> None:
        self.owner = owner
        self.backend = backend
        self.conn: Upstream | None = None
        self.sent = 0.0
        self.deadline = 0.0  # read by its connection's per-try timer, like ``Relay.deadline``
        self.state = TryState.RUNNING

    # -- seams.Connecting --------------------------------------------------------------------
    def connected(self, conn: Upstream) -> None:
        self.owner.backup_connected(self, conn)

    def connect_failed(self, timed_out: bool) -> None:
        self.owner.backup_failed(
            self, Outcome.CONNECT_TIMEOUT if timed_out else Outcome.CONNECT_FAILED
        )

    # -- seams.UpstreamEvents (until it is promoted: then its connection reports to the owner)
    def on_head(self, status: int, headers: Headers) -> None:
        if not self.owner.settle(self, status, headers):
            self.owner.on_head(status, headers)  # promoted: the exchange's own try now

    def on_body(self, body: bytes) -> None:
        self.owner.on_body(body)

    def flush(self) -> None:
        self.owner.flush()  # the end of the read that brought its head (it may have won)

    def on_complete(self, keep_alive: bool) -> None:
        self.owner.on_complete(keep_alive)

    def on_lost(self) -> None:
        self.owner.backup_failed(self, Outcome.RESET)

    def on_garbage(self) -> None:
        self.owner.backup_failed(self, Outcome.BAD_RESPONSE)

    def on_timeout(self) -> None:
        assert self.conn is not None
        self.conn.detach()
        self.owner.backup_failed(self, Outcome.TIMEOUT)


class Hedged(Relay):
    """A relay whose request may run a second try (``Backup``) beside its own."""

    __slots__ = ("backup", "deferred", "hedge_at", "hedgeable", "payload", "sent")

    def __init__(self, proxy: Proxy, client: ClientSide, request: Request) -> None:
        Relay.__init__(self, proxy, client, request)
        forward = request.forward
        # Without the client's Host, each try names its own backend (``payload_for``).
        self.payload = request.payload() if forward.has_host else b""
        self.hedgeable = proxy.hedging and hedge.safe(request.method, forward.idempotency_key)
        self.sent = 0.0  # loop time the own try was sent (its head's latency is measured from it)
        self.hedge_at = 0.0  # loop time the own try is hedged if it has no head (0: never)
        self.deferred = False  # its hedge deadline came late once and was looked at again
        self.backup: Backup | None = None

    # -- what the exchange provides ----------------------------------------------------------
    def _pick(self) -> Backend | None:
        raise NotImplementedError

    def connected(self, conn: Upstream) -> None:
        raise NotImplementedError

    def on_head(self, status: int, headers: Headers) -> None:
        raise NotImplementedError

    def on_lost(self) -> None:
        raise NotImplementedError

    def on_garbage(self) -> None:
        raise NotImplementedError

    def on_timeout(self) -> None:
        raise NotImplementedError

    def _failed(self, outcome: Outcome) -> None:
        raise NotImplementedError

    # -- the hedge deadline ------------------------------------------------------------------
    def payload_for(self, backend: Backend) -> bytes:
        return self.payload or self.request.payload(backend.authority)

    def arm(self, now: float) -> None:
        """The own try was sent at ``now``: hedge it if no head has come within the delay
        (``disarm``, or a head, forgets it: the wheel's entry is then stale)."""
        proxy = self.proxy
        self.hedge_at = when = now + proxy.hedge_delay()
        proxy.wheel.add(when, self)

    def disarm(self) -> None:
        self.hedge_at = 0.0

    def due(self, when: float) -> None:
        """The wheel: a hedge deadline of this request passed (``wheel.Due``).

        A deadline met far too late means this process did not run (descheduled on a busy
        machine, a long callback): the head may be sitting unread in the socket, and the loop
        runs its timers before its reads. Such a deadline is looked at again one tick later,
        after this turn's reads, so a stall of the balancer itself is not a hedge storm; once
        only, so that a balancer short of CPU for long still hedges."""
        if when != self.hedge_at:  # stale: answered, retried, or ended since
            return
        wheel = self.proxy.wheel
        now = self.proxy.loop.time()
        if now - when > wheel.late and not self.deferred:
            self.deferred = True
            self.hedge_at = again = now + wheel.tick
            wheel.add(again, self)
            return
        self.hedge_at = 0.0
        self._hedge_due()

    def _hedge_due(self) -> None:
        proxy, request = self.proxy, self.request
        reason = hedge.decide(
            enabled=proxy.hedging,
            method=request.method,
            has_idempotency_key=request.forward.idempotency_key,
            attempt=len(self.tried),
            max_tries=proxy.config.max_tries,
            response_started=self.started,
            hedged=self.backup is not None,
            other_backend=proxy.pool.has_other(self.tried),
            budget_left=proxy.budget_left(),
        )
        counters = proxy.counters
        if reason is hedge.Reason.BUDGET_EXHAUSTED:
            counters.hedges_denied += 1
        backend = self._pick() if reason is hedge.Reason.HEDGE else None
        if backend is None:
            return
        counters.hedges += 1
        proxy.retry_budget.withdraw(proxy.loop.time())  # a hedge is a retry sent early
        self.backup = backup = Backup(self, backend)
        self.launch(backend, backup)

    def launch(self, backend: Backend, target: Connecting) -> None:
        """Start a try on ``backend`` (the own try's or the backup's: ``target`` is told when
        it is connected): counted, on an idle keep-alive connection or a new one."""
        self.tried.append(backend)
        counts = backend.counts
        counts.in_flight += 1
        counts.requests += 1
        conn = backend.take_idle()
        if conn is None:
            self.proxy.dial(backend.host, backend.port, target)
        else:
            target.connected(conn)

    # -- the backup's connection -------------------------------------------------------------
    def backup_connected(self, backup: Backup, conn: Upstream) -> None:
        if backup.state is TryState.PROMOTED:  # the own try ended while this one dialled
            self.connected(conn)
            return
        if backup.state is TryState.DROPPED:  # cancelled while it dialled: a fresh connection
            backup.backend.give_back(conn)
            return
        backup.conn = conn
        now = self.proxy.loop.time()
        backup.sent = now
        backup.deadline = now + self.proxy.try_timeout
        conn.send(backup, self.payload_for(backup.backend))

    def backup_failed(self, backup: Backup, outcome: Outcome) -> None:
        if backup.state is TryState.PROMOTED:  # it had become the own try while it dialled
            self._failed(outcome)
            return
        if backup.state is TryState.DROPPED:
            return
        backup.state = TryState.DROPPED
        self.backup = None
        backend = backup.backend
        backend.counts.in_flight -= 1
        if outcome in PASSIVE:
            self.proxy.pool.try_failed(backend, outcome, self.request.forward.request_id.decode())
        else:
            backend.counts.failures += 1
        self._hedge_note(backend, outcome.value, "own-try-runs-on")

    # -- the race ----------------------------------------------------------------------------
    def settle(self, backup: Backup | None, status: int, headers: Headers) -> bool:
        """A head came from the own try (``backup`` None) or from the backup while both run.
        True: it is discarded, the other try answers instead; False: it won, and the exchange
        goes on with it as its own try (the loser cancelled)."""
        running = self.backup
        assert running is not None and (backup is None or backup is running)
        keyed = self.request.forward.idempotency_key
        if hedge.discardable(status, headers, keyed):
            if backup is None:
                self._discarded(self.backend, status, headers)
                self.abandon()
                self.promote(running)
            else:
                self._discarded(running.backend, status, headers)
                self.cancel_backup()
            return True
        if backup is None:
            self._hedge_note(running.backend, "lost-race", "cancel")
            self.cancel_backup()
        else:
            self.proxy.counters.hedges_won += 1
            assert self.backend is not None
            self._hedge_note(self.backend, "lost-race", "cancel")
            self.abandon()
            self.promote(running)
        return False

    def _discarded(self, backend: Backend | None, status: int, headers: Headers) -> None:
        """The accounting of a head not relayed: its backend is alive (it answered)."""
        assert backend is not None
        backend.counts.answers += 1
        if backend.health.streak:
            backend.health.request_ok()
        if status == 503 and is_shed(headers):
            backend.counts.shed += 1
        elif status != 409:
            backend.counts.failures += 1
        self.proxy.counters.hedge_discarded += 1
        self._hedge_note(backend, str(status), "discard")

    def abandon(self) -> None:
        """Stop listening to the own try's connection (and close it): that try is over."""
        assert self.conn is not None and self.backend is not None
        self.conn.detach()
        self.backend.counts.in_flight -= 1

    def cancel_backup(self) -> None:
        """The backup lost (or the request ended): detached, not held against its backend."""
        backup, self.backup = self.backup, None
        assert backup is not None
        backup.state = TryState.DROPPED
        if backup.conn is not None:
            backup.conn.detach()
        backup.backend.counts.in_flight -= 1

    def promote(self, backup: Backup) -> None:
        """The own try is over and the backup runs on: it becomes the exchange's own try."""
        self.backup = None
        backup.state = TryState.PROMOTED
        self.backend = backup.backend
        conn = self.conn = backup.conn
        if conn is not None:  # else it is still dialling: ``backup_connected`` sends
            conn.rebind(self)
            self.sent, self.deadline = backup.sent, backup.deadline

    # -- endings -----------------------------------------------------------------------------
    def _finish(self, status: int) -> None:
        self.hedge_at = 0.0
        if self.backup is not None:  # the request ended (client gone, given up): cancel it
            self.cancel_backup()
        Relay._finish(self, status)

    def _hedge_note(self, backend: Backend, outcome: str, then: str) -> None:
        """One note per try that did not answer (``trail``'s form, read by ``cluster trace``)."""
        attempt = self.tried.index(backend) + 1 if backend in self.tried else len(self.tried)
        self.notes.append(f"try={attempt} backend={backend.name} outcome={outcome} then={then}")
