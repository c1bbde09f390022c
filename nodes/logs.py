"""Log lines are buffered in memory and written a few times a second, not once per request.

``servicekit.jsonlog`` renders one JSON object per line on stderr, and ``logging.StreamHandler``
writes and flushes every record. On the loop that is one blocking ``write`` per request:
measured on the 2-core test machine, with stderr on a file, authenticated ``/whoami`` fell from
about 1500 to about 260 requests/s. A writer thread instead costs GIL hand-offs on every
record. So the handlers' streams are swapped for ``BufferedLogStream``; the node's lifecycle
calls ``drain()`` every ``FLUSH_SECONDS`` and at exit (a SIGKILL loses at most that much).

Making a record is the other cost (with rendering it, about a fifth of a ``/healthz``
request's CPU, profiled with py-spy): ``fast_records()`` turns off what ``logging`` collects for
every record and no JSON line shows (caller, thread, process); ``servicekit.jsonlog``'s
formatter keeps its own rendering cheap.

``ClientProtocolErrors`` turns aiohttp's ERROR-with-traceback for a request its parser refused
into one WARNING line: the client's mistake, not the node's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TextIO

from aiohttp.http_exceptions import HttpProcessingError

FLUSH_SECONDS = 0.2
#: A burst beyond this many lines is written at once rather than held in memory.
MAX_BUFFERED_LINES = 5000


class BufferedLogStream:
    """A text stream that keeps what is written until ``drain()``."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._parts: list[str] = []
        self._lock = threading.Lock()  # records may come from executor threads too

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
            full = len(self._parts) >= MAX_BUFFERED_LINES
        if full:
            self.drain()
        return len(text)

    def flush(self) -> None:
        """Called by ``StreamHandler`` after every record: deliberately does nothing."""

    def drain(self) -> None:
        """Write everything buffered with one call, then flush the target."""
        with self._lock:
            parts, self._parts = self._parts, []
        if parts:
            self.target.write("".join(parts))
            self.target.flush()


def fast_records() -> None:
    """Process-wide, for ``python -m nodes`` only: no caller, thread or process lookups per
    record (the logging HOWTO's "Optimization" switches); no JSON line contains them."""
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


class ClientProtocolErrors(logging.Filter):
    """Requests aiohttp's HTTP parser refuses (a duplicate ``Host``, a garbage request line, bad
    chunking) are the client's error, answered 400: logged at WARNING without a traceback.

    aiohttp logs them through ``aiohttp.server`` with ``logger.exception`` (``web_protocol``'s
    ``handle_error``), an ERROR with the parser's traceback, for every such request. Only
    records carrying an ``HttpProcessingError`` change; a handler's real error stays an ERROR.
    The parser's message can quote the offending bytes (a header line, perhaps a token), so
    only its first line is kept, cut short.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
            record.error = type(exc).__name__
            record.status = exc.code
            record.reason = str(exc.message).split("\n", 1)[0].rstrip(":")[:120]
        return True


def quiet_client_protocol_errors() -> None:
    """Install ``ClientProtocolErrors`` on the ``aiohttp.server`` logger (once)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientProtocolErrors) for f in logger.filters):
        logger.addFilter(ClientProtocolErrors())


def buffer_logs() -> list[BufferedLogStream]:
    """Buffer the root logger's plain stream handlers (``servicekit.jsonlog`` installs one; the
    subclasses that test tools install are left alone); returns the buffers to drain."""
    buffers = []
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            buffer = BufferedLogStream(handler.stream)
            handler.setStream(buffer)
            buffers.append(buffer)
    return buffers


def drain_all(buffers: list[BufferedLogStream]) -> None:
    for buffer in buffers:
        buffer.drain()


async def keep_draining(buffers: list[BufferedLogStream]) -> None:
    """Drain every ``FLUSH_SECONDS`` until cancelled, then once more."""
    try:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            drain_all(buffers)
    finally:
        drain_all(buffers)
