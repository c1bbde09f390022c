"""The one middleware every request goes through (``node_middleware``):

- the request id, ``X-Served-By``/``X-Request-ID`` on every response, ``Connection: close``
  while draining, the metrics and the one JSON log line per request (``nodes.logs.AccessLog``);
- every error rendered as RFC 9457 problem+json (``problem_for``): ``ApiError`` from the
  handlers, aiohttp's own 404/405/413, Redis failures as 503, and anything unexpected as 500
  (logged with its traceback and counted; it is a bug).

It was two middlewares (context around problem): one is a coroutine, a frame and a try block
less per request (aiohttp adds a layer of its own to any chain; together they were 15 % of a
``GET /whoami``'s py-spy samples). Alone the merge is within wrk's noise on this machine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from nodes.errors import ApiError
from nodes.state import ACCESS_LOG, CONFIG, METRICS, READINESS, REQUEST_ID
from nodes.store import StoreUnavailable
from servicekit.problem import problem_response

errors_log = logging.getLogger("nodes.errors")
MAX_BODY_BYTES = 1024 * 1024
#: The status logged for a request whose handler was cancelled (nginx's "client closed").
CANCELLED = 499
_SANE_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def pick_request_id(incoming: str | None) -> str:
    """Echo a sane incoming ``X-Request-ID``; otherwise a new one."""
    if incoming and _SANE_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


# A random (version 4) UUID as 32 hex digits, what ``uuid.uuid4().hex`` returns, for a sixth
# of its cost (it builds a ``UUID`` object and checks it, and reads os.urandom each time): the
# random bytes are read ``_IDS_PER_READ`` ids at a time, turned to hex at once, and each id
# takes its slice with the version nibble set to 4 and the variant's two bits to 10 (RFC 4122).
_IDS_PER_READ = 256
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_random_hex: list[str] = []  # random bytes read ahead, never shared with a forked child
os.register_at_fork(after_in_child=_random_hex.clear)


def new_request_id() -> str:
    try:
        h = _random_hex.pop()
    except IndexError:
        block = os.urandom(16 * _IDS_PER_READ).hex()
        _random_hex.extend(block[i : i + 32] for i in range(0, len(block), 32))
        h = _random_hex.pop()
    return f"{h[:12]}4{h[13:16]}{_VARIANT[h[16]]}{h[17:]}"


def route_template(request: web.Request) -> str:
    """The route's template (``/orders/{id}``) for metrics and logs; bounded cardinality."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def node_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # On every request's path: app lookups are held in locals, the rest is in helpers.
    app = request.app
    request_id = pick_request_id(request.headers.get("X-Request-ID"))
    request[REQUEST_ID] = request_id
    start = time.perf_counter()
    status = 500
    counts = app[METRICS].http
    counts.in_flight += 1
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect: aiohttp sends it itself
                status = exc.status
                raise
            response = _http_problem(request, exc)
        except Exception as exc:  # every error is answered; unexpected ones are logged
            response = problem_for(request, exc)
        status = response.status
        headers = response.headers
        headers["X-Served-By"] = app[CONFIG].node_name
        headers["X-Request-ID"] = request_id
        if app[READINESS].draining:
            response.force_close()
        return response
    except asyncio.CancelledError:
        status = CANCELLED  # the client went away, or shutdown gave up waiting
        raise
    finally:
        counts.in_flight -= 1
        _observe(request, request_id, status, time.perf_counter() - start)


def _observe(request: web.Request, request_id: str, status: int, elapsed: float) -> None:
    """The request's metrics and its one log line (no header, body or token is logged)."""
    route = route_template(request)
    method = request.method
    app = request.app
    app[METRICS].http.observe(route, method, status, elapsed)
    headers = request.headers
    trace = headers.get("traceparent") or headers.get("X-B3-TraceId")
    if trace and not _SANE_ID.fullmatch(trace):
        trace = None  # logged as the balancer propagated it, or not at all
    app[ACCESS_LOG].write(request_id, route, method, request.path, status, elapsed, trace)


def problem_for(request: web.Request, exc: Exception) -> web.Response:
    """The problem+json answer to what a handler raised; call it in the ``except`` block."""
    if isinstance(exc, ApiError):
        return problem_response(
            exc.status, exc.detail, type_=exc.type_, headers=exc.headers, **exc.extra
        )
    if isinstance(exc, StoreUnavailable | RedisConnectionError | RedisTimeoutError):
        request.app[METRICS].store_errors.inc()
        errors_log.warning(
            "redis unavailable",
            extra={"request_id": request[REQUEST_ID], "error": type(exc).__name__},
        )
        return problem_response(
            503, "the database cannot be reached", type_="database-unavailable",
            headers={"Retry-After": "1"},
        )  # fmt: skip
    errors_log.exception("unhandled error", extra={"request_id": request[REQUEST_ID]})
    return problem_response(500, "an unexpected error occurred; it has been logged")


def _http_problem(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (routing, body size) as problem+json."""
    headers: dict[str, str] = {}
    if exc.status == 404:
        detail = f"no resource at {request.path}"
    elif exc.status == 405:
        headers["Allow"] = exc.headers.get("Allow", "")
        detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    elif exc.status == 413:
        detail = f"the body is larger than the limit of {MAX_BODY_BYTES} bytes"
    else:
        detail = exc.reason
    return problem_response(exc.status, detail, headers=headers)
