"""Backends changing at run time: from DNS (every A record of ``BALANCER_DISCOVER``'s host is a
backend), or from ``PUT /_lb/backends`` on the admin listener; both go through ``apply``.

New backends join the pool DOWN (probed, ``BALANCER_RISE`` good probes, before they get
traffic; a probe round starts at once); removed ones are drained (no new requests, dropped once
their in-flight requests are done). The resolver is the one swap point for tests: any
``async (host, port) -> [address, …]``. A DNS failure keeps the current list (a resolver hiccup
must not empty the pool).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable

from balancer.context import Proxy

log = logging.getLogger("balancer.discovery")

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_a(host: str, port: int) -> list[str]:
    """Every IPv4 address of ``host`` (via the system resolver, so /etc/hosts counts too)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def refresh(proxy: Proxy, resolver: Resolver, host: str, port: int) -> bool:
    """Resolve once and apply; True when backends were added."""
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        log.warning(
            "discovery failed, keeping the current backends",
            extra={"host": host, "error": str(exc)},
        )
        proxy.pool.reap()
        return False
    added, _ = apply(proxy, (f"http://{address}:{port}" for address in addresses), "dns")
    return bool(added)


def apply(proxy: Proxy, urls: Iterable[str], source: str) -> tuple[list[str], list[str]]:
    """Make the pool's list ``urls`` (``source``: ``dns`` or ``api``); (added, retired)."""
    added, retired = proxy.pool.sync(urls, source)
    if added or retired:
        log.info("backends changed", extra={"added": added, "retired": retired, "source": source})
    return added, retired


async def discover_forever(
    proxy: Proxy, resolver: Resolver, host: str, port: int, wake_probes: asyncio.Event
) -> None:
    while True:
        if await refresh(proxy, resolver, host, port):
            wake_probes.set()
        await asyncio.sleep(proxy.config.discover_interval)
