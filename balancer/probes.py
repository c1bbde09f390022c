"""Active health: ``GET /readyz`` on every backend, every ``BALANCER_HEALTH_INTERVAL``.

200 is a good probe, 503 means the node is draining, anything else (a timeout, a refused
connection, another status) is a failed probe. The results feed ``Health``; the node's name is
learnt from ``X-Served-By``. A probe round is started early when the pool gains a backend, and
each round drops the retired backends that have finished their requests (``Pool.reap``).

How a probe failed is kept (``Backend.probe``): ``refused`` (nothing listens: a dead process),
``connect-timeout`` (no handshake: a killed container's vanished address), ``timeout`` (the
handshake completed, no answer came: a frozen process, whose kernel still accepts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp

from balancer.context import Proxy
from balancer.pool import Backend

log = logging.getLogger("balancer.probes")


async def probe_forever(proxy: Proxy, session: aiohttp.ClientSession, wake: asyncio.Event) -> None:
    interval = proxy.config.health_interval
    while True:
        started = time.monotonic()
        backends = list(proxy.pool.backends)
        await asyncio.gather(*(probe(proxy, session, b) for b in backends))
        proxy.pool.reap()
        wake.clear()
        delay = max(0.0, interval - (time.monotonic() - started))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)


async def probe(proxy: Proxy, session: aiohttp.ClientSession, backend: Backend) -> None:
    """One probe of one backend, applied to its health state machine."""
    limit = proxy.config.health_timeout
    # The connect gets its own bound so that "no handshake" and "no answer" tell apart.
    timeout = aiohttp.ClientTimeout(total=limit, sock_connect=limit / 2)
    status: int | None = None
    error = ""
    try:
        async with session.get(backend.url + "/readyz", timeout=timeout) as response:
            status = response.status
            served_by = response.headers.get("X-Served-By")
            if served_by:
                backend.learn_name(served_by.encode("latin-1", "replace"))
            await response.read()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = type(exc).__name__
        backend.probe = failure_kind(exc)
    else:
        backend.probe = {200: "ok", 503: "draining"}.get(status, f"status {status}")
    answers, backend.answers_at_probe = backend.answers_at_probe, backend.counts.answers
    if backend.probe == "timeout" and backend.counts.answers > answers:
        backend.probe = "slow (answering requests)"
        backend.health.probe_slow()  # not dead: it answered proxied requests meanwhile
        return
    _apply(proxy, backend, status, error)


def failure_kind(exc: BaseException) -> str:
    """``refused``, ``connect-timeout`` (no handshake), ``timeout`` (no answer), ``error``."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect-timeout"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "refused"
    return "error"


def _apply(proxy: Proxy, backend: Backend, status: int | None, error: str) -> None:
    """200: good; 503: draining; anything else (``None``: no answer): failed."""
    before = backend.health.state
    if status == 200:
        changed = backend.health.probe_ok()
    elif status == 503:
        changed = backend.health.probe_draining()
    else:
        changed = backend.health.probe_failed(time.monotonic())
        if changed:  # UP or DRAINING to DOWN
            backend.counts.ejections += 1
    if not changed:
        return
    proxy.pool.health_changed(backend, before, backend.probe)
    log.log(
        logging.INFO if status == 200 else logging.WARNING,
        "backend state changed",
        extra={
            "backend": backend.name,
            "url": backend.url,
            "from": before.value,
            "to": backend.health.state.value,
            "probe_status": status,
            "probe_error": error,
        },
    )
