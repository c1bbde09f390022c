"""The response half of a forwarded request: relayed to the client as it arrives, and ended.

``Relay`` is the base of ``exchange.Exchange``, which adds the attempts (picking, sending,
retrying, waiting). Once a response head is accepted (``begin``), the relay rewrites it for
the client, frames the body (chunked or not) and flushes each read's worth in one write; every
byte moves the body deadline on. It also ends the request, whichever way it ends: complete,
cut mid-body (``truncated``: nothing can be redone), or left by the client. One object per
request, no coroutine: this is the hot path.
"""

from __future__ import annotations

import logging

from balancer import trail
from balancer.answers import explain_value
from balancer.context import Proxy
from balancer.headers import filter_response, response_head
from balancer.pool import Backend
from balancer.request import Request
from balancer.retry import Outcome
from balancer.seams import ClientSide, Headers, Upstream

_BODYLESS_STATUS = frozenset({204, 304})


class Relay:
    """A response on its way to the client; the state the attempts share with it."""

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

    # -- the response ------------------------------------------------------------------------
    def begin(self, status: int, headers: Headers) -> None:
        """Relay this head: from now on nothing is retried."""
        self.status = status
        self.started = True
        self.deadline = self.proxy.loop.time() + self.proxy.try_timeout
        self.out.append(self._head(status, headers))
        if self.request.method == "HEAD":  # no body follows, whatever the headers say
            assert self.conn is not None
            self.conn.detach()
            self.on_complete(False)

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
            explain=explain_value(self.notes) if self.explain else None,
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
        self.proxy.pool.try_failed(backend, outcome, self.request.forward.request_id.decode())
        self.proxy.counters.aborted += 1
        self.flush()
        self.client.abort()
        self._finish(self.status)

    def _finish(self, status: int) -> None:
        proxy = self.proxy
        proxy.counters.active -= 1
        request = self.request
        elapsed = proxy.loop.time() - request.started
        proxy.counters.observe(status, elapsed)
        if self.notes or trail.log.isEnabledFor(logging.DEBUG):
            trail.log_request(request, status, elapsed, self.notes, [b.name for b in self.tried])
        self.client.exchange_done(self.close)
