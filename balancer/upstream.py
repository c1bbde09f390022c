"""One keep-alive connection to a backend, parsed with httptools.

The connection hands every parser event to the ``Exchange`` that currently owns it, and nothing
else: retries, framing and health are the exchange's business. ``detach()`` makes it forget its
exchange, so late bytes of an abandoned attempt never reach a client.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import httptools

if TYPE_CHECKING:
    from balancer.exchange import Exchange
    from balancer.pool import Backend


class UpstreamProtocol(asyncio.Protocol):
    __slots__ = (
        "backend",
        "closed",
        "exchange",
        "headers",
        "idle_since",
        "parser",
        "paused",
        "timer",
        "transport",
    )

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        # The per-try timer, armed by the exchange that sends (see ``Exchange.on_timer``).
        self.timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.on_upstream_lost(self)

    def reusable(self) -> bool:
        transport = self.transport
        return not self.closed and transport is not None and not transport.is_closing()

    def send(self, exchange: Exchange, data: bytes) -> None:
        # The parser is reused: llhttp starts over after a complete keep-alive response, and
        # a connection whose response was not complete is never reused.
        self.exchange = exchange
        self.headers = []
        assert self.transport is not None
        self.transport.write(data)

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()

    def detach(self) -> None:
        """Forget the exchange and close: the attempt is abandoned."""
        self.exchange = None
        self.close()

    def close(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def on_timer(self) -> None:
        self.timer = None
        exchange = self.exchange
        if exchange is not None and not self.closed:
            exchange.on_timer(self)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # -- bytes in ----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # nothing was asked: a confused backend
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.exchange = None
            self.close()
            exchange.on_upstream_garbage(self)
            return
        exchange.flush()

    # -- httptools callbacks -----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx: an interim answer, the real one follows
            self.headers = []
            return
        if self.exchange is not None:
            self.exchange.on_head(self, status, self.headers)

    def on_body(self, body: bytes) -> None:
        if self.exchange is not None:
            self.exchange.on_body(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            return
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.on_complete(self, self.parser.should_keep_alive())
