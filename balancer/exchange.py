"""One client request forwarded to the backends, attempt after attempt.

The exchange is driven by callbacks (no coroutine per request: this is the hot path). Each
attempt picks a backend (``Pool.pick``), sends the buffered request on a pooled keep-alive
connection (or a new one, under the connect timeout), and waits for the response head under the
per-try timeout. A failure feeds passive health (``Pool.eject``) and the pure retry decision
(``retry.decide``); a response is streamed to the client chunk by chunk as it arrives, and from
the first byte on nothing is retried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from balancer.headers import filter_response, response_head
from balancer.request import Request
from balancer.retry import EJECTING, Decision, Outcome, decide, give_up
from balancer.upstream import UpstreamProtocol

if TYPE_CHECKING:
    from balancer.context import Proxy
    from balancer.pool import Backend
    from balancer.server import ClientProtocol

log = logging.getLogger("balancer.exchange")

_BODYLESS_STATUS = frozenset({204, 304})
_RETRY_STATUS = {502: Outcome.STATUS_502, 503: Outcome.STATUS_503}


class Exchange:
    __slots__ = (
        "backend",
        "chunked",
        "client",
        "conn",
        "done",
        "explain",
        "last_activity",
        "notes",
        "out",
        "payload",
        "proxy",
        "request",
        "retrying",
        "started",
        "status",
        "tried",
        "until_close",
    )

    def __init__(self, proxy: Proxy, client: ClientProtocol, request: Request) -> None:
        self.proxy = proxy
        self.client = client
        self.request = request
        # Without the client's Host, each attempt names its own backend (see _send).
        self.payload = request.payload() if request.forward.has_host else b""
        self.tried: list[Backend] = []
        self.backend: Backend | None = None
        self.conn: UpstreamProtocol | None = None
        self.started = False  # a byte of the response went to the client
        self.done = False
        self.retrying = False
        self.chunked = False
        self.until_close = False
        self.status = 0
        self.last_activity = 0.0
        self.out: list[bytes] = []
        self.explain = request.forward.explain
        self.notes: list[str] = []  # one line per attempt that did not simply succeed

    def start(self) -> None:
        self.proxy.active += 1
        self.proxy.retry_budget.deposit(self.proxy.loop.time())
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
        backend.in_flight += 1
        backend.requests += 1
        conn = backend.take_idle()
        if conn is None:
            self.proxy.spawn(self._connect(backend))
        else:
            self._send(conn)

    async def _connect(self, backend: Backend) -> None:
        loop = self.proxy.loop
        factory = functools.partial(UpstreamProtocol, backend)
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(factory, backend.host, backend.port),
                self.proxy.config.connect_timeout,
            )
        except TimeoutError:
            self._failed(Outcome.CONNECT_TIMEOUT)
        except OSError:
            self._failed(Outcome.CONNECT_FAILED)
        else:
            self._send(conn)

    def _send(self, conn: UpstreamProtocol) -> None:
        self.conn = conn
        payload = self.payload
        if not payload:
            assert self.backend is not None
            payload = self.request.payload(self.backend.authority)
        conn.send(self, payload)
        # The per-try timer belongs to the connection and is not cancelled per request (see
        # ``on_timer``): the wait is timed from now, and from the last byte once started.
        proxy = self.proxy
        self.last_activity = proxy.loop.time()
        if conn.timer is None:
            conn.timer = proxy.loop.call_later(proxy.config.try_timeout, conn.on_timer)

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
        if decision.reason == "budget-exhausted":
            proxy.stats.budget_denied += 1
        return decision

    def _failed(self, outcome: Outcome) -> None:
        """The attempt failed before any byte went to the client."""
        backend = self.backend
        assert backend is not None
        backend.in_flight -= 1
        if outcome in EJECTING:
            self.proxy.pool.eject(backend, outcome.value, self.request.forward.request_id.decode())
        else:
            backend.failures += 1
        decision = self._decide(outcome)
        self._note(backend, outcome.value, decision)
        if decision.retry:
            self._retry()
        else:
            self._give_up(outcome)

    def _retry(self) -> None:
        self.proxy.pool.retries += 1
        self.proxy.retry_budget.withdraw(self.proxy.loop.time())
        if not self.retrying:
            self.retrying = True
            self.proxy.active_retries += 1
        self._attempt()

    def on_timer(self, conn: UpstreamProtocol) -> None:
        """The connection's timer fired while this attempt owns it: time out, or wait on.

        The timer is armed once per connection and re-armed here, never cancelled per request
        (a ``call_later`` and a cancel per request cost more than the rest of the timing): it
        fires no later than the deadline of the attempt it was armed for, and an attempt sent
        after that one has a later deadline, which this checks and waits for.
        """
        loop = self.proxy.loop
        timeout = self.proxy.config.try_timeout
        left = self.last_activity + timeout - loop.time()
        if left > 0:  # not yet: the request was sent, or its last byte came, since arming
            conn.timer = loop.call_later(left, conn.on_timer)
            return
        conn.detach()
        if self.started:
            self._truncated(Outcome.TIMEOUT)
        else:
            self._failed(Outcome.TIMEOUT)

    # -- events from the upstream connection -------------------------------------------------
    def on_head(
        self, conn: UpstreamProtocol, status: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        backend = self.backend
        assert backend is not None
        outcome = _RETRY_STATUS.get(status)
        if outcome is not None:
            backend.failures += 1
            decision = self._decide(outcome)
            self._note(backend, outcome.value, decision)
            if decision.retry:
                conn.detach()
                backend.in_flight -= 1
                self._retry()
                return
        elif self.explain:
            self.notes.append(f"try={len(self.tried)} backend={backend.name} outcome={status}")
        self.status = status
        self.started = True
        self.last_activity = self.proxy.loop.time()
        self.out.append(self._head(status, headers))
        if self.request.method == "HEAD":  # no body follows, whatever the headers say
            conn.detach()
            self.on_complete(conn, False)

    def _head(self, status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
        up = filter_response(headers)
        backend = self.backend
        if up.served_by is not None and backend is not None and up.served_by != backend.served_by:
            backend.learn_name(up.served_by)
        request, client = self.request, self.client
        head, self.chunked, self.until_close, client.close_after = response_head(
            status,
            up,
            request_id=request.forward.request_id,
            explain="; ".join(self.notes).encode("latin-1", "replace") if self.explain else None,
            bodyless=request.method == "HEAD" or status in _BODYLESS_STATUS,
            http11=request.http11,
            close=client.close_after or self.proxy.closing,
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
            self.last_activity = self.proxy.loop.time()

    def on_complete(self, conn: UpstreamProtocol, keep_alive: bool) -> None:
        if self.chunked:
            self.out.append(b"0\r\n\r\n")
        self.flush()
        backend = self.backend
        assert backend is not None
        backend.in_flight -= 1
        if keep_alive:
            backend.give_back(conn)
        else:
            conn.close()
        self._finish(self.status)

    def on_upstream_lost(self, conn: UpstreamProtocol) -> None:
        if not self.started:
            self._failed(Outcome.RESET)
        elif self.until_close:
            self.on_complete(conn, False)
        else:
            self._truncated(Outcome.RESET)

    def on_upstream_garbage(self, conn: UpstreamProtocol) -> None:
        if self.started:
            self._truncated(Outcome.BAD_RESPONSE)
        else:
            self._failed(Outcome.BAD_RESPONSE)

    # -- endings -----------------------------------------------------------------------------
    def client_gone(self) -> None:
        """The client left mid-response: stop reading the backend, which did nothing wrong."""
        conn = self.conn
        if conn is not None:
            conn.detach()
        backend = self.backend
        assert backend is not None
        backend.in_flight -= 1
        self._finish(499)  # nginx's "client closed request"

    def _truncated(self, outcome: Outcome) -> None:
        """The backend failed mid-response: the client connection is cut (nothing can be redone)."""
        backend = self.backend
        assert backend is not None
        backend.in_flight -= 1
        self.proxy.pool.eject(backend, outcome.value, self.request.forward.request_id.decode())
        self.proxy.stats.aborted += 1
        self.flush()
        self.client.abort()
        self._finish(self.status)

    def _give_up(self, outcome: Outcome | None) -> None:
        status, detail = give_up(outcome)
        extra: list[tuple[bytes, bytes]] = []
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
        self.proxy.stats.local[status] = self.proxy.stats.local.get(status, 0) + 1
        self._finish(status)

    def _finish(self, status: int) -> None:
        self.done = True
        proxy = self.proxy
        proxy.active -= 1
        if self.retrying:
            proxy.active_retries -= 1
        request = self.request
        elapsed = proxy.loop.time() - request.started
        proxy.stats.observe(status, elapsed)
        if self.notes or log.isEnabledFor(logging.DEBUG):
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
        self.client.exchange_done()

    def _note(self, backend: Backend, outcome: str, decision: Decision) -> None:
        then = "retry" if decision.retry else f"stop({decision.reason})"
        self.notes.append(
            f"try={len(self.tried)} backend={backend.name} outcome={outcome} then={then}"
        )
