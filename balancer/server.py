"""Client connections of both listeners: HTTP/1.1 parsing with httptools, limits, timeouts.

Each connection parses requests, enforces the header-block limit (431) and the body limit (413),
buffers the body, and hands each complete request to ``dispatch`` (the public port's forwards it
through an ``Exchange``: ``public``); requests pipelined on one connection are answered in
order. Only header bytes count toward the header limit, however reads split head and body. A
bad ``Host`` is a 400 (RFC 9112 §3.2). On the public port ``/_lb/`` and the nodes' ``/metrics``
are 404, never proxied (``target``), and ``X-LB-Explain`` counts only with ``BALANCER_EXPLAIN``;
the admin listener is the same parsing with another ``dispatch`` (``admin``). The balancer's own
answers carry ``X-Served-By: balancer``.

Client timeouts (one timer per connection, see ``ClientProtocol._on_timer``): an idle keep-alive
connection is closed quietly after ``client_idle_timeout``; a request head not complete within
``client_header_timeout`` of its first byte, or a body stalled for ``client_idle_timeout``, gets
408 and the connection is closed. While a request is being forwarded, the exchange's own
timeouts apply instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import cast

import httptools

from balancer.answers import Rejected, body_detail, header_detail, local_answer, timeout_detail
from balancer.context import Proxy
from balancer.exchange import Exchange
from balancer.headers import Forward, rewrite_request
from balancer.request import Request
from servicekit.problem import PROBLEM_CONTENT_TYPE, problem_bytes

log = logging.getLogger("balancer.server")
LINGER = 2.0  # seconds a rejected connection drains the client's bytes before closing


class ClientProtocol(asyncio.Protocol):
    """One client connection (``seams.ClientSide`` to its exchanges, ``Closable`` to the drain).

    What a complete request leads to is the listener's: ``dispatch`` (public port or admin).
    """

    scheme = b"http"  # ``https`` on a TLS connection (``X-Forwarded-Proto``)

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client_ip = b"unknown"
        self.queue: deque[Request] = deque()
        self.exchange: Exchange | None = None
        self.close_after = False
        self.rejected = False
        config = proxy.config
        self.max_header = config.max_header
        # Raw bytes of an unfinished head, over reads that finish none: what httptools buffers
        # of a header line it has not reported yet. Twice the limit and a margin: the exact
        # count (head_count) decides; this only bounds memory.
        self.head_guard = 2 * config.max_header + 4096
        self.heads = 0  # heads parsed on this connection (tells a read that finished one)
        self.explain = config.explain
        self.forward: Forward | None = None
        self.idle_timeout = config.client_idle_timeout
        self.header_timeout = config.client_header_timeout
        self.tick = min(self.idle_timeout, self.header_timeout)
        self.timer: asyncio.TimerHandle | None = None
        self.since = 0.0  # loop time the current wait began: idle, a head, body bytes
        self._reset()

    def _reset(self) -> None:
        self.url: list[bytes] = []
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_size = 0
        self.head_size = 0  # raw bytes of this head in reads that did not finish it (the guard)
        self.head_count = 0  # request line and header bytes, as parsed
        self.in_head = True

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0]).encode()
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = b"https"
        self.proxy.connections.add(self)
        self.since = self.proxy.loop.time()
        self.timer = self.proxy.loop.call_later(self.tick, self._on_timer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy.connections.discard(self)
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        exchange = self.exchange
        if exchange is not None and exchange.started:
            exchange.client_gone()  # nobody reads the rest of this response

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def close_if_idle(self) -> None:
        """Shutdown: close now when nothing is in flight, else after the current response."""
        self.close_after = True
        if self.exchange is None and not self.queue and self.transport is not None:
            self.transport.close()

    # -- timeouts ----------------------------------------------------------------------------
    # The timer is never cancelled per request: each arming is at most ``tick`` (the shorter
    # timeout) ahead, so a head that begins after it still has its deadline checked in time;
    # when it fires it compares the current wait with its deadline and re-arms or acts.
    def _on_timer(self) -> None:
        self.timer = None
        if self.exchange is not None or self.queue or self.rejected:
            return  # busy (the exchange has its timeouts); re-armed by _went_idle
        if self.transport is None or self.transport.is_closing():
            return
        now = self.proxy.loop.time()
        mid_head = self.in_head and self.head_size > 0
        timeout = self.header_timeout if mid_head else self.idle_timeout
        left = self.since + timeout - now
        if left > 0:
            self.timer = self.proxy.loop.call_later(min(left, self.tick), self._on_timer)
        elif self.in_head and not mid_head:
            self.transport.close()  # idle keep-alive: nothing to say
        else:
            self._reject(Rejected(408, timeout_detail(mid_head, timeout)))

    def _went_idle(self) -> None:
        """Nothing in flight any more: an idle wait is timed from now (a head's from its start)."""
        if self.in_head and not self.head_size:
            self.since = self.proxy.loop.time()
        if self.timer is None:
            self.timer = self.proxy.loop.call_later(self.tick, self._on_timer)

    # -- bytes in ----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self.rejected:
            return
        in_head, heads = self.in_head, self.heads
        if in_head and not self.head_size:  # a request head begins (or goes on)
            self.since = self.proxy.loop.time()
        try:
            self.parser.feed_data(data)
            # In a head before and after, and no head finished: every byte was head. A read
            # that finished a head also held body or next requests, which must not count.
            if in_head and self.in_head and heads == self.heads:
                self.head_size += len(data)
                if self.head_size > self.head_guard:
                    raise Rejected(431, header_detail(self.max_header), limit=self.max_header)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, Rejected):
                raise
            self._reject(cause)
        except Rejected as exc:
            self._reject(exc)
        except httptools.HttpParserUpgrade:
            self._reject(Rejected(501, "protocol upgrades are not supported"))
        except httptools.HttpParserError as exc:
            self._reject(Rejected(400, f"malformed HTTP request: {exc}"))

    def _reject(self, exc: Rejected) -> None:
        """Answer locally and close; requests already queued are dropped."""
        self.rejected = True
        self.close_after = True
        if self.exchange is not None:
            self.queue.clear()
            return  # the in-flight response ends the connection
        self.respond_problem(exc.status, exc.detail, b"", [], False, **exc.extra)
        self.proxy.counters.answered_locally(exc.status)
        if self.transport is not None:
            self._close_lingering(self.transport)

    def _close_lingering(self, transport: asyncio.Transport) -> None:
        """nginx's lingering close: closing with the client's bytes unread (a body on its way)
        makes the kernel send RST, and the client may lose the answer. So: the answer, FIN,
        then read and drop what still comes; close when the client does, or after LINGER."""
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.proxy.loop.call_later(LINGER, transport.close)

    # -- httptools callbacks -----------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        self.url.append(url)
        self.head_count += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_count += len(name) + len(value) + 4
        if self.head_count > self.max_header:
            raise Rejected(431, header_detail(self.max_header), limit=self.max_header)
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.heads += 1
        if self.head_count > self.max_header:  # a long URL and few headers
            raise Rejected(431, header_detail(self.max_header), limit=self.max_header)
        self.forward = forward = rewrite_request(self.headers, self.client_ip, scheme=self.scheme)
        if forward.problem is not None or forward.host is None:
            self._check_host(forward)
        limit = self.proxy.config.max_body
        if forward.content_length > limit:
            raise Rejected(413, body_detail(limit), limit=limit)
        if forward.expect_continue and self.exchange is None:
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _check_host(self, forward: Forward) -> None:
        """Two or a malformed ``Host``, or none in HTTP/1.1: 400 (RFC 9112 §3.2), and close."""
        if forward.problem is not None:
            raise Rejected(400, forward.problem)
        if self.parser.get_http_version() != "1.0":
            raise Rejected(400, "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")

    def on_body(self, body: bytes) -> None:
        self.since = self.proxy.loop.time()
        self.body_size += len(body)
        limit = self.proxy.config.max_body
        if self.body_size > limit:
            raise Rejected(413, body_detail(limit), limit=limit)
        self.body.append(body)

    def on_message_complete(self) -> None:
        parser, forward = self.parser, self.forward
        assert forward is not None  # set when the headers were complete
        request = Request(
            method=parser.get_method().decode("ascii", "replace"),
            target=b"".join(self.url),
            http11=parser.get_http_version() == "1.1",
            keep_alive=parser.should_keep_alive(),
            forward=forward,
            body=b"".join(self.body),
            started=self.proxy.loop.time(),
        )
        self._reset()  # for the next request on this connection (no on_message_begin: speed)
        self.queue.append(request)
        if self.exchange is None:
            self._next()

    # -- dispatch ----------------------------------------------------------------------------
    def _next(self) -> None:
        while self.queue and self.exchange is None:
            request = self.queue.popleft()
            if not request.keep_alive:
                self.close_after = True
                self.queue.clear()
            self.dispatch(request)
        if self.exchange is None:
            if self.close_after and self.transport is not None:
                self.transport.close()
            else:
                self._went_idle()

    def exchange_done(self, close: bool) -> None:
        """The exchange is over (``seams.ClientSide``): the next queued request, if any."""
        self.exchange = None
        if close:
            self.close_after = True
        if self.close_after:
            self.queue.clear()
        self._next()

    def dispatch(self, request: Request) -> None:
        """Act on one complete request (``public.PublicProtocol``, ``admin.AdminProtocol``)."""
        raise NotImplementedError

    # -- local answers -----------------------------------------------------------------------
    def respond_problem(
        self,
        status: int,
        detail: str,
        request_id: bytes,
        extra: list[tuple[bytes, bytes]],
        head_only: bool = False,
        **members: object,
    ) -> None:
        body = problem_bytes(status, detail, **members)
        self.respond(status, PROBLEM_CONTENT_TYPE.encode(), body, request_id, extra, head_only)

    def respond(
        self,
        status: int,
        content_type: bytes,
        body: bytes,
        request_id: bytes,
        extra: list[tuple[bytes, bytes]],
        head_only: bool = False,
    ) -> None:
        """An answer of the balancer's own (see ``answers``)."""
        close = self.close_after = self.close_after or self.proxy.closing
        answer = local_answer(
            status, content_type, body, request_id, extra, head_only=head_only, close=close
        )
        self.write(answer)
