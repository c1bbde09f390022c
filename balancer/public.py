"""The public port: requests are forwarded (``Exchange``), but never to the admin surface.

Before a request is forwarded its target is normalised to origin-form and checked
(``target.public_target``): ``/_lb/…`` and the nodes' ``/metrics`` are 404, a target that
disagrees with ``Host`` is 400, both answered here in order with the other answers, and the
connection goes on. ``X-LB-Explain: 1`` is stripped before forwarding in any case
(``headers``); it is honoured, the answer saying how each try went, only with
``BALANCER_EXPLAIN``.
"""

from __future__ import annotations

from balancer.exchange import Exchange
from balancer.pinned import PinnedExchange
from balancer.request import Request
from balancer.server import ClientProtocol
from balancer.target import BadTarget, public_target


class PublicProtocol(ClientProtocol):
    """A client connection on the public port (``BALANCER_HOST:BALANCER_PORT``)."""

    def dispatch(self, request: Request) -> None:
        """Forward ``request``, or answer 400/404 (in order; the connection goes on)."""
        forward = request.forward
        try:
            request.target = public_target(request.target, request.method, forward.host)
        except BadTarget as exc:
            self.respond_problem(
                exc.status, exc.detail, forward.request_id, [], request.method == "HEAD"
            )
            self.proxy.counters.answered_locally(exc.status)
            self.proxy.counters.observe(exc.status, self.proxy.loop.time() - request.started)
            return
        if not self.explain:
            forward.explain = False  # X-LB-Explain: stripped by rewrite_request, now ignored too
        sticky = self.proxy.config.sticky == "cookie"  # the stateful twin only (``pinned``)
        self.exchange = (PinnedExchange if sticky else Exchange)(self.proxy, self, request)
        self.exchange.start()

    def pause_writing(self) -> None:
        """The client reads slower than the backend sends: stop reading the backend."""
        if self.exchange is not None:
            self.exchange.pause_upstream()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.resume_upstream()
