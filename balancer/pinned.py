"""The exchange of ``BALANCER_STICKY=cookie``: ``Exchange`` with a pinned first pick.

Only the public port's dispatch builds it, and only with the setting on; the default path is
the plain ``Exchange``, untouched. The decisions are ``sticky``'s (pure, table-tested); this
class applies them at the three points where a request meets them: the pin cookie is taken out
of the forwarded request, the first try goes to the pinned backend when it is up, and the
answer's head gets the pin cookie when the backend that answered is not the one pinned.
"""

from __future__ import annotations

from balancer import sticky
from balancer.context import Proxy
from balancer.exchange import Exchange
from balancer.health import State
from balancer.pool import Backend
from balancer.relay import Relay
from balancer.request import Request
from balancer.seams import ClientSide, Headers


class PinnedExchange(Exchange):
    """One request of a sticky balancer (see ``sticky`` for the rules)."""

    __slots__ = ("cookie", "pin")

    def __init__(self, proxy: Proxy, client: ClientSide, request: Request) -> None:
        self.cookie = proxy.config.sticky_cookie.encode()
        forward = request.forward
        forward.lines, self.pin = sticky.take_pin(forward.lines, self.cookie)
        Exchange.__init__(self, proxy, client, request)

    def _pick(self) -> Backend | None:
        if self.pin is not None and not self.tried:
            backends = self.proxy.pool.backends
            index = sticky.choose(
                self.pin,
                [sticky.backend_id(b.url) for b in backends],
                [b.state is State.UP for b in backends],
            )
            if index is not None:
                return backends[index]
        return Exchange._pick(self)

    def _head(self, status: int, headers: Headers) -> bytes:
        head = Relay._head(self, status, headers)
        assert self.backend is not None
        served = sticky.backend_id(self.backend.url)
        if not sticky.needs_cookie(self.pin, served):
            return head
        return head[:-2] + sticky.cookie_lines(self.cookie, served) + b"\r\n"
