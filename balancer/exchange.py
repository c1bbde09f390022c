"""One client request forwarded to the backends, attempt after attempt.

The exchange is driven by callbacks (no coroutine per request: this is the hot path), and sees
the rest of the proxy only through ``seams``: the client connection is a ``ClientSide``, a
backend connection an ``Upstream`` that reports back to it as ``UpstreamEvents``, and a new
connection is asked of ``Proxy.dial``, which answers as ``Connecting``. Each attempt picks a
backend (``Pool.pick``), sends the buffered request on a pooled keep-alive connection (or a new
one), and waits for the response under the per-try deadline. A failure feeds passive health
(``Pool.try_failed``) and the pure retry decision (``retry.decide``); a response is relayed to
the client as it arrives (``relay.Relay``), and from its first byte on nothing is retried.
A try of a request that is safe to send twice may be *hedged* (``backup.Hedged``, the base
class): a second try beside it when it has not answered within the hedge delay.

Slow is not failed: a try past its per-try timeout that may not be sent elsewhere is *waited
on* while its backend stays up, until the request deadline (``BALANCER_REQUEST_TIMEOUT``),
its health looked at again every probe interval (``retry.on_timer``). A node's shed answer
(503 + ``X-Not-Processed: true``) is retried elsewhere whatever the method, as a requeue:
counted apart from retries in the budget (``retry.RetryBudget``).
"""

from __future__ import annotations

from balancer import trail
from balancer.answers import give_up_headers
from balancer.backup import Hedged
from balancer.context import Proxy
from balancer.health import State
from balancer.pool import Backend
from balancer.request import Request
from balancer.retry import PASSIVE, Decision, Outcome, Reason, decide, give_up, is_shed, on_timer
from balancer.seams import ClientSide, Headers, Upstream

_RETRY_STATUS = {502: Outcome.STATUS_502, 503: Outcome.STATUS_503}
_WAITING = Decision(False, Reason.RETRY, wait=True)  # the timer of a try waited on: wait on


class Exchange(Hedged):
    """One request: its attempts and streamed response (``UpstreamEvents``, ``Connecting``)."""

    __slots__ = ("waiting",)

    def __init__(self, proxy: Proxy, client: ClientSide, request: Request) -> None:
        Hedged.__init__(self, proxy, client, request)  # not super(): no proxy object per request
        self.waiting = False  # the try is past its per-try timeout, waited on (see on_timeout)

    def start(self) -> None:
        proxy = self.proxy
        proxy.counters.active += 1
        proxy.retry_budget.deposit(proxy.loop.time())
        self._attempt()

    # -- attempts ----------------------------------------------------------------------------
    def _pick(self) -> Backend | None:
        """The next try's backend (``pinned.PinnedExchange`` prefers a pinned one first)."""
        return self.proxy.pool.pick(self.tried)

    def _attempt(self) -> None:
        pool = self.proxy.pool
        backend = self._pick()
        if backend is None and not self.tried and not pool.any_up():
            backend = pool.fallback()  # nothing is up: the least recently failed, once
        if backend is None:
            self._give_up(None)
            return
        self.backend = backend
        self.launch(backend, self)

    def connected(self, conn: Upstream) -> None:
        """Send on ``conn``; it arms its per-try timer, which reads ``deadline``; and the hedge
        deadline, when the request is safe to send twice."""
        self.conn = conn
        assert self.backend is not None
        payload = self.payload_for(self.backend)
        proxy = self.proxy
        self.sent = now = proxy.loop.time()
        self.deadline = now + proxy.try_timeout
        conn.send(self, payload)
        if self.hedgeable:
            self.arm(now)

    def connect_failed(self, timed_out: bool) -> None:
        self._failed(Outcome.CONNECT_TIMEOUT if timed_out else Outcome.CONNECT_FAILED)

    def _decide(self, outcome: Outcome) -> Decision:
        proxy = self.proxy
        backend = self.backend
        decision = decide(
            method=self.request.method,
            outcome=outcome,
            has_idempotency_key=self.request.forward.idempotency_key,
            attempt=len(self.tried),
            max_tries=proxy.config.max_tries,
            response_started=self.started,
            budget_left=proxy.budget_left(outcome is Outcome.SHED),
            other_backend=proxy.pool.has_other(self.tried),
            backend_up=backend is not None and backend.health.state is not State.DOWN,
        )
        if decision.reason is Reason.BUDGET_EXHAUSTED:
            proxy.counters.budget_denied += 1
        return decision

    def _failed(self, outcome: Outcome, decision: Decision | None = None) -> None:
        """The attempt failed before any byte went to the client."""
        backend = self.backend
        assert backend is not None
        backend.counts.in_flight -= 1
        if outcome in PASSIVE:
            self.proxy.pool.try_failed(backend, outcome, self.request.forward.request_id.decode())
        else:
            backend.counts.failures += 1
        if self.backup is not None:  # the hedge runs on alone
            self._hedge_note(backend, outcome.value, "hedge-runs-on")
            self.promote(self.backup)
            return
        if decision is None:
            decision = self._decide(outcome)
        self._note(backend, outcome, decision)
        if decision.retry:
            self._retry()
        else:
            self._give_up(outcome)

    def _retry(self, shed: bool = False) -> None:
        self.waiting = False
        self.hedge_at = 0.0
        proxy = self.proxy
        proxy.counters.retries += 1
        proxy.retry_budget.withdraw(proxy.loop.time(), requeue=shed)
        self._attempt()

    # -- events from the upstream connection (seams.UpstreamEvents) --------------------------
    def on_head(self, status: int, headers: Headers) -> None:
        self.hedge_at = 0.0  # answered (within the hedge delay, or a hedge runs): no hedge
        if self.backup is not None and self.settle(None, status, headers):
            return  # discarded while the hedge runs: it answers instead
        proxy = self.proxy
        proxy.latency.record(proxy.loop.time() - self.sent)
        backend = self.backend
        assert backend is not None
        backend.counts.answers += 1
        health = backend.health
        if health.streak:  # an answer, however slow and whatever its status: alive
            health.request_ok()
        outcome = _RETRY_STATUS.get(status)
        if outcome is not None:
            if self._retried(outcome, headers, backend):
                return
        elif self.explain:
            self.notes.append(f"try={len(self.tried)} backend={backend.name} outcome={status}")
        self.begin(status, headers)

    def _retried(self, outcome: Outcome, headers: Headers, backend: Backend) -> bool:
        """A 502 or 503 head: retried elsewhere (True), or to be relayed to the client."""
        counters = self.proxy.counters
        shed = outcome is Outcome.STATUS_503 and is_shed(headers)
        if shed:  # alive and protecting itself, nothing processed: not a failure
            outcome = Outcome.SHED
            backend.counts.shed += 1
        else:
            backend.counts.failures += 1
        decision = self._decide(outcome)
        self._note(backend, outcome, decision)
        if not decision.retry:
            if shed:
                counters.shed_relayed += 1
            return False
        if shed:
            counters.shed_retries += 1
        self.abandon()
        self._retry(shed)
        return True

    def on_lost(self) -> None:
        if not self.started:
            self._failed(Outcome.RESET)
        elif self.until_close:
            self.on_complete(False)
        else:
            self._truncated(Outcome.RESET)

    def on_garbage(self) -> None:
        if self.started:
            self._truncated(Outcome.BAD_RESPONSE)
        else:
            self._failed(Outcome.BAD_RESPONSE)

    def on_timeout(self) -> None:
        """The deadline passed: end the try (detaching its connection), or wait on it."""
        conn, backend, proxy = self.conn, self.backend, self.proxy
        assert conn is not None and backend is not None
        if self.started:
            conn.detach()
            self._truncated(Outcome.TIMEOUT)
            return
        if self.backup is not None:  # the hedge may still answer: this try is over
            conn.detach()
            self._failed(Outcome.TIMEOUT)
            return
        now = proxy.loop.time()
        expires = self.request.started + proxy.config.request_timeout
        outcome = on_timer(
            waiting=self.waiting,
            deadline_passed=now >= expires,
            backend_down=backend.health.state is State.DOWN,
        )
        decision = _WAITING if outcome is None else self._decide(outcome)
        if decision.wait:  # look again at the next probe interval, or at the deadline
            self.deadline = min(now + proxy.config.health_interval, expires)
            if outcome is not None:  # the per-try timeout: waiting begins
                self.waiting = True
                proxy.counters.waits += 1
                self._note(backend, outcome, decision)
            return
        assert outcome is not None
        if self.waiting:
            proxy.counters.wait_ended(outcome is Outcome.DEADLINE)
        conn.detach()
        self._failed(outcome, decision)

    # -- endings -----------------------------------------------------------------------------
    def _give_up(self, outcome: Outcome | None) -> None:
        status, detail = give_up(outcome)
        if outcome is None and not self.tried:
            self.notes.append("no backend to try")
        request = self.request
        self.client.respond_problem(
            status,
            detail,
            request.forward.request_id,
            give_up_headers(status, self.notes if self.explain else None),
            head_only=request.method == "HEAD",
            tries=len(self.tried),
        )
        self.proxy.counters.answered_locally(status)
        self._finish(status)

    def _note(self, backend: Backend, outcome: Outcome, decision: Decision) -> None:
        self.notes.append(trail.note(len(self.tried), backend.name, outcome, decision))
