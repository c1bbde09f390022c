"""The admin listener: the balancer's own endpoints, never on the public port, never proxied.

Served on ``BALANCER_ADMIN_HOST:BALANCER_ADMIN_PORT`` (loopback by default; Envoy's admin port
and HAProxy's stats frontend are the models) by ``AdminProtocol``: the client connection of
``server`` (the same parsing, limits and timeouts) whose ``dispatch`` answers here. Its answers
are not counted as client traffic (a scrape every few seconds would show in the request rates).

``GET /_lb/status``: the JSON of docs/balancer.md (strategy, backends with their state and
counters, retries).
``GET /_lb/metrics``: Prometheus text (``metrics``).
``GET /_lb/backends``: the pool; ``PUT /_lb/backends`` ``{"backends": ["http://h:p", …]}``
makes it that list (new backends probed before they get traffic, removed ones drained) and
answers the new pool; 400 on a bad body, 415 on another content type, 409 under
``BALANCER_DISCOVER`` (DNS owns the list then).
``GET /_lb/dashboard``: the live page (``page``), fed by ``GET /_lb/events`` (Server-
Sent Events, ``live``); ``POST /_lb/events`` ``{"action", "target", "signal"}`` adds an event
the balancer cannot see itself (``chaos-kill`` posts its actions).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from balancer.admin import metrics, page
from balancer.admin.body import BadBody, backend_list, chaos_event, header
from balancer.admin.live import Live
from balancer.config import backend_url
from balancer.context import Proxy
from balancer.discovery import apply
from balancer.events import CHAOS
from balancer.request import Request
from balancer.server import ClientProtocol
from balancer.target import BadTarget, origin_form
from servicekit.problem import PROBLEM_CONTENT_TYPE, problem_bytes

JSON = b"application/json"
HTML = b"text/html; charset=utf-8"
PROBLEM = PROBLEM_CONTENT_TYPE.encode()

Answer = tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]
Handler = Callable[[Proxy, Request], Answer]


def status_document(proxy: Proxy) -> dict[str, object]:
    return {
        "strategy": "round_robin",
        "backends": [
            {
                "name": b.name,
                "url": b.url,
                "state": b.state.value,
                "in_flight": b.counts.in_flight,
                "requests": b.counts.requests,
                "failures": b.counts.failures,
                "ejections": b.counts.ejections,
            }
            for b in proxy.pool.backends
        ],
        "retries": proxy.counters.retries,
        "hedges": proxy.counters.hedges,
        "hedges_won": proxy.counters.hedges_won,
    }


def pool_document(proxy: Proxy, added: list[str], removed: list[str]) -> dict[str, object]:
    """The answer of ``/_lb/backends``: every backend (draining ones too) and what changed."""
    rows = [{"name": b.name, "url": b.url, "state": b.state.value} for b in proxy.pool.backends]
    return {"backends": rows, "added": added, "removed": removed}


def _json(document: object, status: int = 200) -> Answer:
    return status, JSON, json.dumps(document).encode(), []


def _problem(status: int, detail: str) -> Answer:
    return status, PROBLEM, problem_bytes(status, detail), []


def _put_backends(proxy: Proxy, request: Request) -> Answer:
    if proxy.config.discover is not None:
        return _problem(409, "the backends come from DNS (BALANCER_DISCOVER): change the records")
    content_type = header(request.forward.lines, b"content-type")
    try:
        urls = backend_list(content_type, request.body, backend_url)
    except BadBody as exc:
        return _problem(exc.status, exc.detail)
    added, removed = apply(proxy, urls, "api")
    return _json(pool_document(proxy, added, removed))


def _post_event(proxy: Proxy, request: Request) -> Answer:
    content_type = header(request.forward.lines, b"content-type")
    try:
        fields = chaos_event(content_type, request.body)
    except BadBody as exc:
        return _problem(exc.status, exc.detail)
    entry = proxy.pool.events.add(CHAOS, **fields)
    return _json({"seq": entry["seq"]}, 202)


ROUTES: dict[bytes, dict[str, Handler]] = {
    b"/_lb/status": {"GET": lambda proxy, _: _json(status_document(proxy))},
    b"/_lb/metrics": {"GET": lambda proxy, _: (200, metrics.PROM, metrics.render(proxy), [])},
    b"/_lb/backends": {
        "GET": lambda proxy, _: _json(pool_document(proxy, [], [])),
        "PUT": _put_backends,
    },
    b"/_lb/dashboard": {"GET": lambda proxy, _: (200, HTML, page.PAGE, [])},
    b"/_lb/events": {"POST": _post_event},  # GET: the stream, answered by AdminProtocol
}


def handle(proxy: Proxy, request: Request, target: bytes) -> Answer:
    """(status, content type, body, extra headers) for a request to the admin listener.

    The body is the one a GET gets; the caller leaves it out for HEAD and keeps its length.
    """
    path = target.split(b"?", 1)[0]
    routes = ROUTES.get(path)
    if routes is None:
        return _problem(404, f"no such path: {path!r}")
    method = "GET" if request.method == "HEAD" else request.method
    handler = routes.get(method)
    if handler is None:
        allowed = [*routes, "HEAD"] if "GET" in routes else list(routes)
        if path == b"/_lb/events":
            allowed = ["GET", *allowed]
        status, content_type, body, _ = _problem(405, f"allowed: {', '.join(allowed)}")
        return status, content_type, body, [(b"Allow", ", ".join(allowed).encode())]
    return handler(proxy, request)


class AdminProtocol(ClientProtocol):
    """A connection to the admin listener: every request is answered by ``handle``, but
    ``GET /_lb/events``, which turns the connection into a stream (``live``)."""

    def __init__(self, proxy: Proxy, live: Live) -> None:
        super().__init__(proxy)
        self.live = live
        self.streaming = False

    def dispatch(self, request: Request) -> None:
        try:
            target = origin_form(request.target, request.method, request.forward.host)
        except BadTarget as exc:
            answer: Answer = _problem(exc.status, exc.detail)
        else:
            if request.method == "GET" and target.split(b"?", 1)[0] == b"/_lb/events":
                self._stream()
                return
            answer = handle(self.proxy, request, target)
        status, content_type, body, extra = answer
        head_only = request.method == "HEAD"
        self.respond(status, content_type, body, request.forward.request_id, extra, head_only)

    def _stream(self) -> None:
        """From now on this connection only receives events (until either side closes)."""
        self.streaming = True  # (close_after stays unset: it would close the stream at once)
        self.queue.clear()
        self.live.subscribe(self)

    def data_received(self, data: bytes) -> None:
        if not self.streaming:  # a viewer has nothing more to ask
            super().data_received(data)

    def _on_timer(self) -> None:
        if not self.streaming:  # a stream is never idle
            super()._on_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.unsubscribe(self)
        super().connection_lost(exc)
