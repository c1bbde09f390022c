"""The two middlewares every request goes through, outermost first.

- ``context_middleware``: request id, ``X-Served-By``/``X-Request-ID`` on every response,
  ``Connection: close`` while draining, the metrics and the one JSON log line per request.
- ``problem_middleware``: renders every error as RFC 9457 problem+json: ``ApiError`` from the
  handlers, aiohttp's own 404/405/413, Redis failures as 503, and anything unexpected as 500
  (logged with its traceback and counted; it is a bug).
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
from nodes.state import CONFIG, METRICS, READINESS, REQUEST_ID
from nodes.store import StoreUnavailable
from servicekit.problem import problem_response

log = logging.getLogger("nodes.access")
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


# A random (version 4) UUID as 32 hex digits, what ``uuid.uuid4().hex`` returns, for a third of
# its cost (it builds a ``UUID`` object and checks it): 122 random bits, variant RFC 4122.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    value = int.from_bytes(os.urandom(16), "big") & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


def route_template(request: web.Request) -> str:
    """The route's template (``/orders/{id}``) for metrics and logs; bounded cardinality."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    request[REQUEST_ID] = pick_request_id(request.headers.get("X-Request-ID"))
    start = time.perf_counter()
    status = 500
    app[METRICS].in_flight.inc()
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Served-By"] = app[CONFIG].node_name
        response.headers["X-Request-ID"] = request[REQUEST_ID]
        if app[READINESS].draining:
            response.force_close()
        return response
    except asyncio.CancelledError:
        status = CANCELLED  # the client went away, or shutdown gave up waiting
        raise
    finally:
        app[METRICS].in_flight.dec()
        _observe(request, status, time.perf_counter() - start)


def _observe(request: web.Request, status: int, elapsed: float) -> None:
    """The request's metrics and its one log line (no header, body or token is logged)."""
    route = route_template(request)
    request.app[METRICS].observe_request(route, request.method, status, elapsed)
    if not log.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": request[REQUEST_ID],
        "node": request.app[CONFIG].node_name,
        "route": route,
        "method": request.method,
        "path": request.path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
    }
    trace = request.headers.get("traceparent") or request.headers.get("X-B3-TraceId")
    if trace and _SANE_ID.fullmatch(trace):
        fields["trace"] = trace  # as the balancer propagated it
    log.info("request", extra=fields)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return problem_response(
            exc.status, exc.detail, type_=exc.type_, headers=exc.headers, **exc.extra
        )
    except (StoreUnavailable, RedisConnectionError, RedisTimeoutError) as exc:
        request.app[METRICS].store_errors.inc()
        errors_log.warning(
            "redis unavailable",
            extra={"request_id": request[REQUEST_ID], "error": type(exc).__name__},
        )
        return problem_response(
            503, "the database cannot be reached", type_="database-unavailable",
            headers={"Retry-After": "1"},
        )  # fmt: skip
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_problem(request, exc)
    except Exception:
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
