"""Client connections: HTTP/1.1 parsing with httptools, limits, timeouts, and dispatch.

Each connection parses requests, enforces the header-block limit (431) and the body limit (413),
buffers the body, and hands the request to an ``Exchange``; requests pipelined on one connection
are answered in order. Paths under ``/_lb/`` are the balancer's own (``admin``) and are never
proxied. Answers the balancer makes itself carry ``X-Served-By: balancer``.

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

from balancer import admin
from balancer.answers import body_detail, header_detail, local_answer, timeout_detail
from balancer.context import Proxy
from balancer.exchange import Exchange
from balancer.headers import Forward, rewrite_request
from balancer.request import Request
from servicekit.problem import PROBLEM_CONTENT_TYPE, problem_bytes

log = logging.getLogger("balancer.server")


class _Rejected(Exception):
    """The request cannot be taken; answered locally, then the connection is closed."""

    def __init__(self, status: int, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


class ClientProtocol(asyncio.Protocol):
    """One client connection (``seams.ClientSide`` to its exchanges, ``Closable`` to the drain)."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client_ip = b"unknown"
        self.queue: deque[Request] = deque()
        self.exchange: Exchange | None = None
        self.close_after = False
        self.rejected = False
        self.max_header = proxy.config.max_header
        self.forward: Forward | None = None
        config = proxy.config
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
        self.head_size = 0  # raw bytes received while in the head (a guard before parsing)
        self.head_count = 0  # request line and header bytes, as parsed
        self.in_head = True

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if peer:
            self.client_ip = str(peer[0]).encode()
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

    def pause_writing(self) -> None:
        """The client reads slower than the backend sends: stop reading the backend."""
        if self.exchange is not None:
            self.exchange.pause_upstream()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.resume_upstream()

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
            self._reject(_Rejected(408, timeout_detail(mid_head, timeout)))

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
        limit = self.proxy.config.max_header
        if self.in_head:
            if not self.head_size:  # a request head begins
                self.since = self.proxy.loop.time()
            self.head_size += len(data)
        try:
            if self.in_head and self.head_size > 2 * limit + 4096:
                raise _Rejected(431, header_detail(limit), limit=limit)
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, _Rejected):
                raise
            self._reject(cause)
        except _Rejected as exc:
            self._reject(exc)
        except httptools.HttpParserUpgrade:
            self._reject(_Rejected(501, "protocol upgrades are not supported"))
        except httptools.HttpParserError as exc:
            self._reject(_Rejected(400, f"malformed HTTP request: {exc}"))

    def _reject(self, exc: _Rejected) -> None:
        """Answer locally and close; requests already queued are dropped."""
        self.rejected = True
        self.close_after = True
        if self.exchange is not None:
            self.queue.clear()
            return  # the in-flight response ends the connection
        self.respond_problem(exc.status, exc.detail, b"", [], False, **exc.extra)
        self.proxy.counters.answered_locally(exc.status)
        if self.transport is not None:
            self.transport.close()

    # -- httptools callbacks -----------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        self.url.append(url)
        self.head_count += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_count += len(name) + len(value) + 4
        if self.head_count > self.max_header:
            raise _Rejected(431, header_detail(self.max_header), limit=self.max_header)
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_count > self.max_header:  # a long URL and few headers
            raise _Rejected(431, header_detail(self.max_header), limit=self.max_header)
        self.forward = forward = rewrite_request(self.headers, self.client_ip)
        limit = self.proxy.config.max_body
        if forward.content_length > limit:
            raise _Rejected(413, body_detail(limit), limit=limit)
        if forward.expect_continue and self.exchange is None:
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.since = self.proxy.loop.time()
        self.body_size += len(body)
        limit = self.proxy.config.max_body
        if self.body_size > limit:
            raise _Rejected(413, body_detail(limit), limit=limit)
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
            if request.target.startswith(b"/_lb/"):
                self._admin(request)
                continue
            self.exchange = Exchange(self.proxy, self, request)
            self.exchange.start()
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

    def _admin(self, request: Request) -> None:
        status, content_type, body, extra = admin.handle(self.proxy, request.method, request.target)
        head_only = request.method == "HEAD"
        self.respond(status, content_type, body, request.forward.request_id, extra, head_only)
        self.proxy.counters.observe(status, self.proxy.loop.time() - request.started)

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
