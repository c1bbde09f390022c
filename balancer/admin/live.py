"""The live feed of the dashboard: ``GET /_lb/events`` as Server-Sent Events.

A viewer's connection gets a ``text/event-stream`` head (no length: the stream ends when either
side closes), the current tiles and the recent events at once, then one ``data:`` line of JSON
every ``INTERVAL`` (``dashboard.View``: tiles, rates, the events since the last one). One timer
task per balancer (``app``) serves every viewer; a viewer that goes away is dropped.
"""

from __future__ import annotations

import asyncio
import json
from typing import Protocol

from balancer.admin.dashboard import Document, View
from balancer.answers import SERVED_BY
from balancer.context import Proxy

INTERVAL = 0.5  # seconds between updates: a killed node's tile turns within a second of it
HEAD = (
    b"HTTP/1.1 200 OK\r\n" + SERVED_BY + b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    b"retry: 1000\n\n"  # reconnect after 1 s when the balancer restarts
)


class Viewer(Protocol):
    """A connection that receives the stream (``admin.AdminProtocol``)."""

    def write(self, data: bytes) -> None: ...


def message(document: Document) -> bytes:
    return b"data: " + json.dumps(document, separators=(",", ":")).encode() + b"\n\n"


class Live:
    """The viewers of one balancer and the view that feeds them."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.view = View(proxy.pool.events)
        self.viewers: set[Viewer] = set()

    def subscribe(self, viewer: Viewer) -> None:
        pool = self.proxy.pool
        viewer.write(HEAD + message(self.view.first(pool.backends, self.proxy.counters)))
        self.viewers.add(viewer)

    def unsubscribe(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def tick(self) -> None:
        pool, loop = self.proxy.pool, self.proxy.loop
        document = self.view.tick(pool.backends, self.proxy.counters, loop.time())
        if self.viewers:
            data = message(document)
            for viewer in list(self.viewers):
                viewer.write(data)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            self.tick()
