"""The seams of the proxy core: who may call whom, written down as ``typing.Protocol``s.

One forwarded request is an ``Exchange`` (``balancer.exchange``). It sits between two sides and
talks to each only through the interfaces below, so a test can put fakes (or the real protocols
over fake transports) on either side and drive it in memory::

    ClientProtocol ──ClientSide◀── Exchange ──Dial──▶ Dialer ──Connecting──▶ Exchange
    (server)                          │                (upstream)
                                      └──Upstream──▶ UpstreamProtocol ──UpstreamEvents──▶ Exchange

This module imports nothing of the balancer, so every other module may import it without a
cycle. These are typing devices only: every call is a plain bound-method call, as before, and
nothing here is allocated per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Headers = list[tuple[bytes, bytes]]


class ClientSide(Protocol):
    """The client connection as its current exchange sees it (``server.ClientProtocol``).

    Called by the exchange only, and only while it is the connection's current exchange. It
    may write bytes, cut the connection, or have the balancer answer in its own name; it ends
    its turn with ``exchange_done``, after which it calls nothing more.
    """

    @property
    def close_after(self) -> bool:
        """Whether the connection closes after this response (read when the head is built)."""
        ...

    def write(self, data: bytes) -> None:
        """Response bytes for the client, in order (dropped once the client is gone)."""

    def abort(self) -> None:
        """Cut the connection: a started response cannot be finished."""

    def respond_problem(
        self,
        status: int,
        detail: str,
        request_id: bytes,
        extra: Headers,
        head_only: bool = False,
        **members: object,
    ) -> None:
        """Answer with the balancer's own problem+json (the give-up 502/503/504)."""

    def exchange_done(self, close: bool) -> None:
        """The exchange is over; ``close``: its response said ``Connection: close``."""


class Upstream(Protocol):
    """One connection to a backend as the exchange sees it (``upstream.UpstreamProtocol``).

    Called by the exchange that owns it (after ``send``) and by the backend's idle list. The
    connection arms its own per-try timer when a request is sent on it (see
    ``UpstreamEvents.deadline``).
    """

    idle_since: float

    def send(self, events: UpstreamEvents, data: bytes) -> None:
        """Write a request; from now on every event of its response goes to ``events``."""

    def rebind(self, events: UpstreamEvents) -> None:
        """From now on every event of the response goes to ``events`` (a hedge that won)."""

    def detach(self) -> None:
        """Forget the exchange and close: the attempt is abandoned, late bytes are dropped."""

    def close(self) -> None:
        """Close the connection (not reusable: a broken response, or no keep-alive)."""

    def reusable(self) -> bool:
        """Whether an idle connection may carry another request."""
        ...

    def pause(self) -> None:
        """Stop reading the backend (the client reads slower than the backend sends)."""

    def resume(self) -> None:
        """Read the backend again."""


class UpstreamEvents(Protocol):
    """What a backend connection reports to the exchange that sent on it (``Exchange``).

    Called by ``UpstreamProtocol`` only, and only while that exchange owns the connection: a
    detached connection reports nothing. ``on_head``/``on_body``/``on_complete`` come from the
    HTTP parser, ``flush`` after each batch of bytes read; ``on_lost`` and ``on_garbage`` end
    the attempt, ``on_timeout`` may.
    """

    deadline: float
    """Loop time by which the next response byte is due (the per-try timeout); the
    connection's timer reads it when it fires, and waits on while it lies ahead."""

    def on_head(self, status: int, headers: Headers) -> None:
        """A final (non-1xx) response head arrived."""

    def on_body(self, body: bytes) -> None:
        """A piece of the response body (de-chunked by the parser)."""

    def flush(self) -> None:
        """The bytes of one read were parsed: pass on what they produced."""

    def on_complete(self, keep_alive: bool) -> None:
        """The response is complete; the connection is reusable when ``keep_alive``."""

    def on_lost(self) -> None:
        """The backend closed or reset the connection."""

    def on_garbage(self) -> None:
        """The backend sent something that is not HTTP; the connection is already closed."""

    def on_timeout(self) -> None:
        """``deadline`` passed with no byte: the exchange ends the try (and detaches the
        connection), or moves ``deadline`` on to wait longer (a slow try it waits on)."""


class Connecting(Protocol):
    """Where a ``Dial`` reports its result (``Exchange``); exactly one of these is called."""

    def connected(self, conn: Upstream) -> None:
        """The connection is open; the exchange sends on it at once."""

    def connect_failed(self, timed_out: bool) -> None:
        """Refused or unreachable, or (``timed_out``) no handshake within the connect timeout."""


class Closable(Protocol):
    """A client connection as the shutdown sees it (``app`` drains ``Proxy.connections``)."""

    def close_if_idle(self) -> None:
        """Close now when nothing is in flight, else after the current response."""

    def close(self) -> None:
        """Close now (the grace is over)."""


Dial = Callable[[str, int, Connecting], None]
"""``dial(host, port, connecting)``: open a new connection to a backend, report to
``connecting`` later (never from inside the call). ``upstream.Dialer`` is the real one."""
