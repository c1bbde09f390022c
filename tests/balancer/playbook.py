"""The proxy core in memory: events in, effects out (mitmproxy's ``Playbook`` is the model).

The real ``PublicProtocol`` (the public port's ``server.ClientProtocol``), ``Exchange`` and
``UpstreamProtocol`` run on a fake loop (a clock the test moves, timers that fire when it does)
over fake transports, with a fake ``Dial`` in place of ``upstream.Dialer``: no socket, no sleep.
A test reads as a script::

    pb = Playbook("a", "b")
    pb >> ClientSends(GET) << Dial("a")
    pb >> Refused("a") << Ejected("a") << Dial("b")
    pb >> Connected("b") << ToBackend("b", Starts(b"GET / HTTP/1.1\\r\\n"))

``>>`` carries out an event (and whatever the loop would run right after it); ``<<`` takes the
next effect it produced and checks it. Effects are strict: the next ``>>`` and ``done()`` fail
while an effect has not been checked. Backends are named by host (``"a"`` is
``http://a:80``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from balancer.config import BalancerConfig
from balancer.context import Proxy
from balancer.pool import Pool
from balancer.public import PublicProtocol
from balancer.seams import Connecting
from balancer.upstream import UpstreamProtocol

#: A backend's plain 200, and what the client receives of it (the balancer adds the request id).
OK = b"HTTP/1.1 200 OK\r\nX-Served-By: node-a\r\nContent-Length: 5\r\n\r\nhello"
OK_TO_CLIENT = (
    b"HTTP/1.1 200 OK\r\nX-Served-By: node-a\r\nX-Request-ID: r-1\r\nContent-Length: 5\r\n\r\nhello"
)

CONFIG = BalancerConfig(
    host="127.0.0.1",
    port=0,
    connect_timeout=0.25,
    try_timeout=3.0,
    max_tries=3,
    retry_budget=0.2,
    retry_min=10,
    hedge=False,  # the retry tests see one try at a time; test_hedge turns it on
    log_level="WARNING",
)


# -- matchers for bytes -------------------------------------------------------------------------
class Starts:
    """Bytes that begin with ``prefix``, hold every one of ``parts``, and not ``without``."""

    def __init__(self, prefix: bytes, *parts: bytes, without: bytes | None = None) -> None:
        self.prefix, self.parts, self.without = prefix, parts, without

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, bytes)
            and other.startswith(self.prefix)
            and all(p in other for p in self.parts)
            and (self.without is None or self.without not in other)
        )

    def __repr__(self) -> str:
        return f"Starts({self.prefix!r}, *{self.parts!r}, without={self.without!r})"


# -- events (>>) --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientSends:
    data: bytes


@dataclass(frozen=True)
class ClientGone:
    """The client closed its connection."""


@dataclass(frozen=True)
class Connected:
    """The oldest pending dial to ``host`` succeeded."""

    host: str


@dataclass(frozen=True)
class Refused:
    host: str
    timed_out: bool = False  # no handshake within the connect timeout


@dataclass(frozen=True)
class BackendSends:
    host: str
    data: bytes


@dataclass(frozen=True)
class BackendCloses:
    host: str


@dataclass(frozen=True)
class Wait:
    """The clock moves on; due timers fire in order."""

    seconds: float


# -- effects (<<) -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToClient:
    data: Any  # bytes, or a matcher


@dataclass(frozen=True)
class ClientClosed:
    aborted: bool = False


@dataclass(frozen=True)
class Dial:
    host: str


@dataclass(frozen=True)
class ToBackend:
    host: str
    data: Any


@dataclass(frozen=True)
class BackendClosed:
    host: str


@dataclass(frozen=True)
class Ejected:
    host: str


# -- fakes --------------------------------------------------------------------------------------
class FakeTimer:
    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]):
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """What the proxy core asks of an event loop: ``time``, ``call_later`` and ``call_at``."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        return self.call_at(self.now + delay, callback, *args)

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        timer = FakeTimer(when, callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    def call_soon(self, callback: Callable[..., object], *args: Any) -> FakeTimer:
        return self.call_later(0.0, callback, *args)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer due on the way, each at its own time."""
        until = self.now + seconds
        while self._timers and self._timers[0][0] <= until:
            when, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self.now = max(self.now, when)
                timer.callback(*timer.args)
        self.now = until

    def armed(self) -> list[float]:
        """Seconds from now of the timers still armed."""
        return sorted(t.when - self.now for _, _, t in self._timers if not t.cancelled)


class FakeTransport:
    """Records writes as effects; closing reports ``connection_lost`` on the next loop turn."""

    def __init__(self, pb: Playbook, protocol: Any, host: str | None) -> None:
        self.pb, self.protocol, self.host = pb, protocol, host
        self.closing = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closing, "write after close"
        self.pb.emit(ToClient(data) if self.host is None else ToBackend(self.host, data))

    def is_closing(self) -> bool:
        return self.closing

    def can_write_eof(self) -> bool:
        return False  # rejections close at once (no lingering close in memory)

    def close(self, aborted: bool = False) -> None:
        if self.closing:
            return
        self.closing = True
        self.pb.emit(ClientClosed(aborted) if self.host is None else BackendClosed(self.host))
        self.pb.loop.call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close(aborted=True)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str) -> object:
        return ("192.0.2.7", 40000) if name == "peername" else None


# -- the playbook -------------------------------------------------------------------------------
class Playbook:
    """One client connection to a balancer with backends ``hosts`` (up, unless ``up=False``)."""

    def __init__(self, *hosts: str, up: bool = True, **overrides: Any) -> None:
        self.config = replace(CONFIG, backends=tuple(f"http://{h}:80" for h in hosts), **overrides)
        self.loop = FakeLoop()
        self.effects: list[object] = []
        self.dials: dict[str, list[Connecting]] = {}  # pending, oldest first
        self.conns: dict[str, list[UpstreamProtocol]] = {}  # every connection made, by host
        pool = Pool(self.config.backends, rise=1, fall=1, eject_after=self.config.eject_consecutive)
        for backend in pool.backends:
            if up:
                backend.health.probe_ok()
        pool.refresh()
        self.proxy = Proxy(self.config, pool, cast(Any, self.loop), self._dial)
        self._watch_ejections(pool)
        self.client = PublicProtocol(self.proxy)
        self.client.connection_made(cast(Any, FakeTransport(self, self.client, None)))

    def _watch_ejections(self, pool: Pool) -> None:
        try_failed = pool.try_failed

        def recording(backend: Any, outcome: Any, request_id: str = "") -> None:
            before = backend.counts.ejections
            try_failed(backend, outcome, request_id)
            if backend.counts.ejections > before:
                self.emit(Ejected(backend.host))

        pool.try_failed = recording  # type: ignore[method-assign]

    def _dial(self, host: str, port: int, connecting: Connecting) -> None:
        self.dials.setdefault(host, []).append(connecting)
        self.emit(Dial(host))

    def backend(self, host: str) -> Any:
        return next(b for b in self.proxy.pool.backends if b.host == host)

    @property
    def counters(self) -> Any:
        return self.proxy.counters

    def emit(self, effect: object) -> None:
        self.effects.append(effect)

    # -- the script --------------------------------------------------------------------------
    def __rshift__(self, event: object) -> Playbook:
        assert not self.effects, f"effects not checked before {event}: {self.effects}"
        self._apply(event)
        self.loop.advance(0.0)  # what the loop runs right after (connection_lost …)
        return self

    def __lshift__(self, expected: object) -> Playbook:
        assert self.effects, f"expected {expected}, but nothing (more) happened"
        actual = self.effects.pop(0)
        assert actual == expected, f"expected {expected}\n     got {actual}"
        return self

    def done(self) -> None:
        assert not self.effects, f"effects not checked: {self.effects}"

    def _apply(self, event: object) -> None:
        match event:
            case ClientSends(data):
                self.client.data_received(data)
            case ClientGone():
                self.client.connection_lost(None)
            case Connected(host):
                conn = UpstreamProtocol(cast(Any, self.loop), self.config.try_timeout)
                conn.connection_made(cast(Any, FakeTransport(self, conn, host)))
                self.conns.setdefault(host, []).append(conn)
                self.dials[host].pop(0).connected(conn)
            case Refused(host, timed_out):
                self.dials[host].pop(0).connect_failed(timed_out)
            case BackendSends(host, data):
                self.conns[host][-1].data_received(data)
            case BackendCloses(host):
                self.conns[host][-1].connection_lost(None)
            case Wait(seconds):
                self.loop.advance(seconds)
            case _:
                raise TypeError(f"not an event: {event!r}")


def request(method: str = "GET", path: str = "/x", *headers: str, body: bytes = b"") -> bytes:
    """A client request with a fixed request id (``r-1``), so answers can be compared."""
    lines = [f"{method} {path} HTTP/1.1", "Host: lb", "X-Request-ID: r-1", *headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
