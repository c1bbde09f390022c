"""Running a node: serve until SIGTERM or SIGINT, then drain and stop cleanly.

    serving ──SIGTERM/SIGINT──▶ draining ──DRAIN_SECONDS──▶ stopping ──in-flight done──▶ exit 0
                               (/readyz 503, still        (no new connections;
                                serving, Connection:        waits up to
                                close on answers)           SHUTDOWN_TIMEOUT_SECONDS)

A second signal while draining cuts the drain period short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from nodes.app import create_app
from nodes.config import NodeConfig
from nodes.state import METRICS, READINESS

log = logging.getLogger("nodes.lifecycle")
SIGNALS = (signal.SIGTERM, signal.SIGINT)

# aiohttp's defaults (8190-byte lines and fields, 128 headers) are below the balancer's limit
# (BALANCER_MAX_HEADER, 16 KiB of request line and headers by default): a request the balancer
# accepted got a bare text/plain 400 here. Well above it, the balancer's 431 is the one that
# applies; a node reached directly is still bounded.
MAX_LINE_BYTES = 32 << 10
MAX_HEADERS = 8192  # a 16 KiB block of minimal "a:b" lines is about 4000 headers
# aiohttp decompresses request bodies by default: an undecodable one raised inside the handler's
# read (a 500) and once more after the answer. The API takes identity bodies only and refuses a
# coded one before reading it (``nodes.handlers.common.read_json``); nothing is decompressed.
AUTO_DECOMPRESS = False


class CannotListen(Exception):
    """The listening socket could not be opened (address in use, not permitted ...)."""


async def serve(config: NodeConfig) -> None:
    """Serve ``config``'s node until a stop signal, then drain and shut down gracefully."""
    loop = asyncio.get_running_loop()
    app = create_app(config)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=config.shutdown_timeout,
        max_line_size=MAX_LINE_BYTES, max_field_size=MAX_LINE_BYTES, max_headers=MAX_HEADERS,
        auto_decompress=AUTO_DECOMPRESS,
    )  # fmt: skip
    await runner.setup()
    stop, hurry = asyncio.Event(), asyncio.Event()

    def on_signal(signum: signal.Signals) -> None:
        log.info("signal received", extra={"signal": signum.name})
        (hurry if stop.is_set() else stop).set()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await _listen(runner, config)
        await stop.wait()
        await _drain(app, config, hurry)
        log.info("stopping: no new connections, finishing in-flight requests")
    finally:
        await runner.cleanup()
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)
    log.info("stopped")


async def _listen(runner: web.AppRunner, config: NodeConfig) -> None:
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError as exc:
        raise CannotListen(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
    log.info("serving", extra={"host": config.host, "port": config.port,
                               "revocation": config.revocation})  # fmt: skip


async def _drain(app: web.Application, config: NodeConfig, hurry: asyncio.Event) -> None:
    """``/readyz`` turns 503 at once; serve on for ``DRAIN_SECONDS`` or until ``hurry``."""
    app[READINESS].draining = True
    app[METRICS].draining.set(1)
    log.info("draining", extra={"seconds": config.drain_seconds})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hurry.wait(), timeout=config.drain_seconds)
