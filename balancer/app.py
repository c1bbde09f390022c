"""The balancer's factory and lifecycle.

The hot path is not an aiohttp application (asyncio protocols and httptools are several times
faster for a proxy), so ``create_balancer`` returns a ``Balancer`` whose ``start``/``stop`` play
the part of aiohttp's ``cleanup_ctx``: each resource is set up and torn down in one place, in
reverse order, through an ``AsyncExitStack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp

from balancer.admin.live import Live
from balancer.admin.routes import AdminProtocol
from balancer.config import BalancerConfig
from balancer.context import Proxy
from balancer.discovery import Resolver, discover_forever, refresh, resolve_a
from balancer.pool import Pool
from balancer.probes import probe_forever
from balancer.public import PublicProtocol
from balancer.server import ClientProtocol
from balancer.tls import server_context
from balancer.upstream import Dialer

log = logging.getLogger("balancer.app")


class Balancer:
    """A running balancer: the public and the admin listener, pool, probes and discovery.

    ``port`` and ``admin_port`` are the bound ports once started (the OS picks when the config
    says 0); ``admin_port`` is None without an admin listener (``BALANCER_ADMIN_PORT=0``).
    ``tls`` is the public port's TLS context, None for plain HTTP: it holds the session cache and
    the ticket key for the life of the process (``balancer.tls``).
    """

    def __init__(self, config: BalancerConfig, resolver: Resolver | None = None) -> None:
        self.config = config
        self.resolver = resolver or resolve_a
        self._stack = contextlib.AsyncExitStack()
        self._proxy: Proxy | None = None
        self.port = config.port
        self.admin_port = config.admin_port
        self.tls: ssl.SSLContext | None = None

    @property
    def proxy(self) -> Proxy:
        assert self._proxy is not None, "start() first"
        return self._proxy

    async def start(self) -> None:
        """Set everything up; on failure (a port in use …) undo what was done and raise."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        dialer = Dialer(loop, config.connect_timeout, config.try_timeout)
        pool = Pool(
            config.backends, config.rise, config.fall, config.eject_consecutive, config.slow_start
        )
        proxy = self._proxy = Proxy(config, pool, loop, dialer.dial)
        wake = asyncio.Event()
        pool.wake = wake.set  # a backend added (PUT /_lb/backends, DNS) is probed at once
        if config.discover is not None:
            await refresh(proxy, self.resolver, *config.discover)
            await self._stack.enter_async_context(
                _task(discover_forever(proxy, self.resolver, *config.discover, wake))
            )
        session = await self._stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        )
        await self._stack.enter_async_context(_task(probe_forever(proxy, session, wake)))
        self._stack.push_async_callback(self._drain)
        # The admin listener first: once the public port accepts, /_lb/status answers too.
        if config.admin_port is not None:
            live = Live(proxy)  # the dashboard's feed
            await self._stack.enter_async_context(_task(live.run()))
            self.admin_port = await self._listen(
                lambda: AdminProtocol(proxy, live), config.admin_host, config.admin_port
            )
        if config.tls_cert is not None and config.tls_key is not None:
            self.tls = server_context(config.tls_cert, config.tls_key)
        self.port = await self._listen(
            lambda: PublicProtocol(proxy), config.host, config.port, backlog=1024, tls=self.tls
        )
        log.info(
            "balancer listening",
            extra={
                "host": config.host,
                "port": self.port,
                "tls": self.tls is not None,
                "admin": f"{config.admin_host}:{self.admin_port}" if self.admin_port else None,
                "backends": list(config.backends),
                "discover": config.discover,
            },
        )

    async def _listen(
        self,
        protocol: Callable[[], ClientProtocol],
        host: str,
        port: int,
        backlog: int = 100,
        tls: ssl.SSLContext | None = None,
    ) -> int:
        """Accept connections on ``host:port`` (closed first on stop); the port bound."""
        server = await self.proxy.loop.create_server(protocol, host, port, backlog=backlog, ssl=tls)
        self._stack.push_async_callback(_close_server, server)
        bound: int = server.sockets[0].getsockname()[1]
        return bound

    async def stop(self) -> None:
        """Graceful: stop accepting, let in-flight requests finish (up to the grace), close."""
        await self._stack.aclose()

    async def _drain(self) -> None:
        proxy = self.proxy
        proxy.closing = True
        for connection in list(proxy.connections):
            connection.close_if_idle()
        loop = proxy.loop
        deadline = loop.time() + self.config.shutdown_grace
        # Polls two counters the hot path keeps; an Event would cost every request a check.
        counters = proxy.counters
        while (counters.active or proxy.connections) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for connection in list(proxy.connections):
            connection.close()
        for backend in proxy.pool.backends:
            backend.close_idle()
        log.info("balancer stopped", extra={"unfinished": counters.active})


async def _close_server(server: asyncio.AbstractServer) -> None:
    server.close()  # first: no new connections while the rest drains


@contextlib.asynccontextmanager
async def _task(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_balancer(config: BalancerConfig, resolver: Resolver | None = None) -> Balancer:
    """The balancer for ``config``; ``resolver`` replaces DNS (tests)."""
    return Balancer(config, resolver)
