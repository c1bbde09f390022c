"""Liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from nodes.handlers.common import json_response
from nodes.openapi import openapi_document
from nodes.state import CONFIG, METRICS, READINESS, REVOCATION, STORE

PING_TIMEOUT = 0.5


async def healthz(request: web.Request) -> web.Response:
    """200 while the process serves: the balancer's liveness view."""
    return json_response({"status": "ok", "node": request.app[CONFIG].node_name})


async def _redis_problem(request: web.Request) -> str | None:
    """``None`` when Redis answers a PING in time, else what went wrong (for the body)."""
    try:
        await asyncio.wait_for(request.app[STORE].ping(), PING_TIMEOUT)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # any failure means "not ready"; the detail goes to the body
        return f"error: {type(exc).__name__}"
    return None


async def readyz(request: web.Request) -> web.Response:
    """200 when the node should get traffic; 503 while draining, unseeded or without Redis."""
    app = request.app
    readiness = app[READINESS]
    redis_problem = await _redis_problem(request)
    ready = redis_problem is None and readiness.seeded and not readiness.draining
    status = "ready" if ready else "draining" if readiness.draining else "unavailable"
    body = {
        "status": status,
        "node": app[CONFIG].node_name,
        "draining": readiness.draining,
        "seeded": readiness.seeded,
        "redis": redis_problem or "ok",
        "revocation": app[REVOCATION].status(),
    }
    return json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS].render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document(request.app[CONFIG]))
