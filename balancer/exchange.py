"""One client request forwarded to the backends, attempt after attempt.

The exchange is driven by callbacks (no coroutine per request: this is the hot path), and sees
the rest of the proxy only through ``seams``: the client connection is a ``ClientSide``, a
backend connection an ``Upstream`` that reports back to it as ``UpstreamEvents``, and a new
connection is asked of ``Proxy.dial``, which answers as ``Connecting``. Each attempt picks a
backend (``Pool.pick``), sends the buffered request on a pooled keep-alive connection (or a new
one), and waits for the response under the per-try deadline. A failure feeds passive health
(``Pool.eject``) and the pure retry decision (``retry.decide``); a response is streamed to the
client chunk by chunk as it arrives, and from the first byte on nothing is retried.
"""

from __future__ import annotations

import logging

from balancer.context import Proxy
from balancer.headers import filter_response, response_head
from balancer.pool import Backend
from balancer.request import Request
from balancer.retry import EJECTING, Decision, Outcome, Reason, decide, give_up
from balancer.seams import ClientSide, Headers, Upstream

log = logging.getLogger("balancer.exchange")

_BODYLESS_STATUS = frozenset({204, 304})
_RETRY_STATUS = {502: Outcome.STATUS_502, 503: Outcome.STATUS_503}


class Exchange:
    """One request: its attempts and streamed response (``UpstreamEvents``, ``Connecting``)."""

    __slots__ = (
        "backend",
        "chunked",
        "client",
        "close",
        "conn",
        "deadline",
        "explain",
        "notes",
        "out",
        "payload",
        "proxy",
        "request",
        "started",
        "status",
        "tried",
        "until_close",
    )

    def __init__(self, proxy: Proxy, client: ClientSide, request: Request) -> None:
        self.proxy = proxy
        self.client = client
        self.request = request
        # Without the client's Host, each attempt names its own backend (see connected).
        self.payload = request.payload() if request.forward.has_host else b""
        self.tried: list[Backend] = []
        self.backend: Backend | None = None
        self.conn: Upstream | None = None
        self.started = False  # a byte of the response went to the client
        self.chunked = False
        self.until_close = False
        self.close = False  # the response head said Connection: close
        self.status = 0
        self.deadline = 0.0  # loop time by which the next response byte is due
        self.out: list[bytes] = []
        self.explain = request.forward.explain
        self.notes: list[str] = []  # one line per attempt that did not simply succeed

    def start(self) -> None:
        proxy = self.proxy
        proxy.counters.active += 1
        proxy.retry_budget.deposit(proxy.loop.time())
        self._attempt()

    # -- attempts ----------------------------------------------------------------------------
    def _attempt(self) -> None:
        pool = self.proxy.pool
        backend = pool.pick(self.tried)
        if backend is None and not self.tried and not pool.any_up():
            backend = pool.fallback()  # nothing is up: the least recently failed, once
        if backend is None:
            self._give_up(None)
            return
        self.backend = backend
        self.tried.append(backend)
        counts = backend.counts
        counts.in_flight += 1
        counts.requests += 1
        conn = backend.take_idle()
        if conn is None:
            self.proxy.dial(backend.host, backend.port, self)
        else:
            self.connected(conn)

    def connected(self, conn: Upstream) -> None:
        """Send on ``conn``; it arms its per-try timer, which reads ``deadline``."""
        self.conn = conn
        payload = self.payload
        if not payload:
            assert self.backend is not None
            payload = self.request.payload(self.backend.authority)
        proxy = self.proxy
        self.deadline = proxy.loop.time() + proxy.try_timeout
        conn.send(self, payload)

    def connect_failed(self, timed_out: bool) -> None:
        self._failed(Outcome.CONNECT_TIMEOUT if timed_out else Outcome.CONNECT_FAILED)

    def _decide(self, outcome: Outcome) -> Decision:
        proxy = self.proxy
        config = proxy.config
        decision = decide(
            method=self.request.method,
            outcome=outcome,
            has_idempotency_key=self.request.forward.idempotency_key,
            attempt=len(self.tried),
            max_tries=config.max_tries,
            response_started=self.started,
            budget_left=proxy.budget_left(),
            other_backend=proxy.pool.has_other(self.tried),
        )
        if decision.reason is Reason.BUDGET_EXHAUSTED:
            proxy.counters.budget_denied += 1
        return decision

    def _failed(self, outcome: Outcome) -> None:
        """The attempt failed before any byte went to the client."""
        backend = self.backend
        assert backend is not None
        backend.counts.in_flight -= 1
        if outcome in EJECTING:
            self.proxy.pool.eject(backend, outcome, self.request.forward.request_id.decode())
        else:
            backend.counts.failures += 1
        decision = self._decide(outcome)
        self._note(backend, outcome, decision)
        if decision.retry:
            self._retry()
        else:
            self._give_up(outcome)

    def _retry(self) -> None:
        self.proxy.counters.retries += 1
        self.proxy.retry_budget.withdraw(self.proxy.loop.time())
        self._attempt()

    # -- events from the upstream connection (seams.UpstreamEvents) --------------------------
    def on_head(self, status: int, headers: Headers) -> None:
        backend = self.backend
        assert backend is not None
        outcome = _RETRY_STATUS.get(status)
        if outcome is not None:
            backend.counts.failures += 1
            decision = self._decide(outcome)
            self._note(backend, outcome, decision)
            if decision.retry:
                self._abandon()
                self._retry()
                return
        elif self.explain:
            self.notes.append(f"try={len(self.tried)} backend={backend.name} outcome={status}")
        self.status = status
        self.started = True
        self.deadline = self.proxy.loop.time() + self.proxy.try_timeout
        self.out.append(self._head(status, headers))
        if self.request.method == "HEAD":  # no body follows, whatever the headers say
            assert self.conn is not None
            self.conn.detach()
            self.on_complete(False)

    def _abandon(self) -> None:
        """Stop listening to the current connection (and close it): the attempt is over."""
        assert self.conn is not None and self.backend is not None
        self.conn.detach()
        self.backend.counts.in_flight -= 1

    def _head(self, status: int, headers: Headers) -> bytes:
        up = filter_response(headers)
        backend = self.backend
        if up.served_by is not None and backend is not None and up.served_by != backend.served_by:
            backend.learn_name(up.served_by)
        request = self.request
        head, self.chunked, self.until_close, self.close = response_head(
            status,
            up,
            request_id=request.forward.request_id,
            explain="; ".join(self.notes).encode("latin-1", "replace") if self.explain else None,
            bodyless=request.method == "HEAD" or status in _BODYLESS_STATUS,
            http11=request.http11,
            close=self.client.close_after or self.proxy.closing,
        )
        return head

    def on_body(self, body: bytes) -> None:
        if self.chunked:
            self.out += (b"%x\r\n" % len(body), body, b"\r\n")
        else:
            self.out.append(body)

    def flush(self) -> None:
        if self.out:
            self.client.write(b"".join(self.out))
            self.out.clear()
            self.deadline = self.proxy.loop.time() + self.proxy.try_timeout

    def on_complete(self, keep_alive: bool) -> None:
        if self.chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        backend, conn = self.backend, self.conn
        assert backend is not None and conn is not None
        backend.counts.in_flight -= 1
        if keep_alive:
            backend.give_back(conn)
        else:
            conn.close()
        self._finish(self.status)

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
        """The per-try deadline passed (the connection has detached itself)."""
        if self.started:
            self._truncated(Outcome.TIMEOUT)
        else:
            self._failed(Outcome.TIMEOUT)

    # -- from the client connection ----------------------------------------------------------
    def pause_upstream(self) -> None:
        """The client reads slower than the backend sends: stop reading the backend."""
        if self.conn is not None:
            self.conn.pause()

    def resume_upstream(self) -> None:
        if self.conn is not None:
            self.conn.resume()

    def client_gone(self) -> None:
        """The client left mid-response: stop reading the backend, which did nothing wrong."""
        if self.conn is not None:
            self.conn.detach()
        assert self.backend is not None
        self.backend.counts.in_flight -= 1
        self._finish(499)  # nginx's "client closed request"

    # -- endings -----------------------------------------------------------------------------
    def _truncated(self, outcome: Outcome) -> None:
        """The backend failed mid-response: the client connection is cut (nothing can be redone)."""
        backend = self.backend
        assert backend is not None
        backend.counts.in_flight -= 1
        self.proxy.pool.eject(backend, outcome, self.request.forward.request_id.decode())
        self.proxy.counters.aborted += 1
        self.flush()
        self.client.abort()
        self._finish(self.status)

    def _give_up(self, outcome: Outcome | None) -> None:
        status, detail = give_up(outcome)
        extra: Headers = []
        if status == 503:
            extra.append((b"Retry-After", b"1"))
        if outcome is None and not self.tried:
            self.notes.append("no backend to try")
        if self.explain:
            extra.append((b"X-LB-Explain", "; ".join(self.notes).encode("latin-1", "replace")))
        request = self.request
        self.client.respond_problem(
            status,
            detail,
            request.forward.request_id,
            extra,
            head_only=request.method == "HEAD",
            tries=len(self.tried),
        )
        self.proxy.counters.answered_locally(status)
        self._finish(status)

    def _finish(self, status: int) -> None:
        proxy = self.proxy
        proxy.counters.active -= 1
        request = self.request
        elapsed = proxy.loop.time() - request.started
        proxy.counters.observe(status, elapsed)
        if self.notes or log.isEnabledFor(logging.DEBUG):
            self._log(status, elapsed)
        self.client.exchange_done(self.close)

    def _log(self, status: int, elapsed: float) -> None:
        request = self.request
        log.log(
            logging.INFO if self.notes else logging.DEBUG,
            "request",
            extra={
                "request_id": request.forward.request_id.decode(),
                "method": request.method,
                "path": request.target.decode("latin-1")[:200],
                "status": status,
                "attempts": self.notes or [b.name for b in self.tried],
                "duration_ms": round(elapsed * 1000, 2),
            },
        )

    def _note(self, backend: Backend, outcome: Outcome, decision: Decision) -> None:
        then = "retry" if decision.retry else f"stop({decision.reason})"
        self.notes.append(
            f"try={len(self.tried)} backend={backend.name} outcome={outcome} then={then}"
        )
