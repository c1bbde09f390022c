"""Connections to the backends: opening them (``Dialer``) and parsing them (``UpstreamProtocol``).

A connection hands every parser event to the ``seams.UpstreamEvents`` (the exchange) that sent
on it, and nothing else: retries, framing and health are the exchange's business. ``detach()``
makes it forget that exchange, so late bytes of an abandoned attempt never reach a client. It
owns its per-try timer (see ``UpstreamProtocol.on_timer``). Nothing here imports the exchange.
"""

from __future__ import annotations

import asyncio
import functools
from typing import cast

import httptools

from balancer.seams import Connecting, UpstreamEvents


class Dialer:
    """The real ``seams.Dial``: a new connection under the connect timeout, on a task."""

    __slots__ = ("connect_timeout", "loop", "tasks", "try_timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, connect_timeout: float, try_timeout: float
    ) -> None:
        self.loop = loop
        self.connect_timeout = connect_timeout
        self.try_timeout = try_timeout
        self.tasks: set[asyncio.Task[None]] = set()  # referenced until done

    def dial(self, host: str, port: int, connecting: Connecting) -> None:
        task = self.loop.create_task(self._dial(host, port, connecting))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _dial(self, host: str, port: int, connecting: Connecting) -> None:
        factory = functools.partial(UpstreamProtocol, self.loop, self.try_timeout)
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(factory, host, port), self.connect_timeout
            )
        except TimeoutError:
            connecting.connect_failed(True)
        except OSError:
            connecting.connect_failed(False)
        else:
            connecting.connected(conn)


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection to a backend, parsed with httptools (``seams.Upstream``)."""

    __slots__ = (
        "closed",
        "events",
        "headers",
        "idle_since",
        "loop",
        "parser",
        "paused",
        "timeout",
        "timer",
        "transport",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, try_timeout: float) -> None:
        self.loop = loop
        self.timeout = try_timeout
        self.transport: asyncio.Transport | None = None
        self.events: UpstreamEvents | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        events, self.events = self.events, None
        if events is not None:
            events.on_lost()

    def reusable(self) -> bool:
        transport = self.transport
        return not self.closed and transport is not None and not transport.is_closing()

    def send(self, events: UpstreamEvents, data: bytes) -> None:
        # The parser is reused: llhttp starts over after a complete keep-alive response, and
        # a connection whose response was not complete is never reused.
        self.events = events
        self.headers = []
        assert self.transport is not None
        self.transport.write(data)
        if self.timer is None:
            self.timer = self.loop.call_later(self.timeout, self.on_timer)

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()

    def rebind(self, events: UpstreamEvents) -> None:
        """Report to ``events`` from now on (the hedge that won becomes its exchange's own try)."""
        self.events = events

    def detach(self) -> None:
        """Forget the exchange and close: the attempt is abandoned."""
        self.events = None
        self.close()

    def close(self) -> None:
        self.closed = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def on_timer(self) -> None:
        """The per-try timer fired: report a passed deadline, or wait on until it comes.

        The timer is armed once per connection (by ``send``) and re-armed here, never cancelled
        per request (a ``call_later`` and a cancel per request cost more than the rest of the
        timing): it fires no later than the deadline of the attempt it was armed for, and an
        attempt sent after that one has a later deadline, which this checks and waits for. At
        a passed deadline the exchange either ends the try (detaching this connection) or moves
        its deadline on (a slow try it waits on), which is then waited for.
        """
        self.timer = None
        events = self.events
        if events is None or self.closed:
            return  # idle: the next send arms it again
        left = events.deadline - self.loop.time()
        if left <= 0:
            events.on_timeout()
            if self.events is not events or self.closed:
                return  # the try is over
            left = events.deadline - self.loop.time()
        self.timer = self.loop.call_later(left, self.on_timer)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # -- bytes in ----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        events = self.events
        if events is None:  # nothing was asked: a confused backend
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.events = None
            self.close()
            events.on_garbage()
            return
        events.flush()

    # -- httptools callbacks -----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx: an interim answer, the real one follows
            self.headers = []
            return
        if self.events is not None:
            self.events.on_head(status, self.headers)

    def on_body(self, body: bytes) -> None:
        if self.events is not None:
            self.events.on_body(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            return
        events, self.events = self.events, None
        if events is not None:
            events.on_complete(self.parser.should_keep_alive())
