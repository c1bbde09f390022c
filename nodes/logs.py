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
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _text
from typing import Any, TextIO

from aiohttp.http_exceptions import HttpProcessingError

from servicekit.jsonlog import JsonFormatter

FLUSH_SECONDS = 0.2
#: A burst beyond this many lines is written at once rather than held in memory.
MAX_BUFFERED_LINES = 5000


#: A line kept as the function that renders it and its arguments, rendered when drained.
Deferred = tuple[Callable[..., str], tuple[Any, ...]]


class BufferedLogStream:
    """A text stream that keeps what is written until ``drain()``.

    ``defer()`` keeps a line not yet rendered (``AccessLog``'s), in order with the rest.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._parts: list[str | Deferred] = []
        self._lock = threading.Lock()  # records may come from executor threads too

    def write(self, text: str) -> int:
        self._keep(text)
        return len(text)

    def defer(self, render: Callable[..., str], args: tuple[Any, ...]) -> None:
        """Keep ``render(*args)``, a whole line with its newline, to be rendered when drained."""
        self._keep((render, args))

    def _keep(self, part: str | Deferred) -> None:
        with self._lock:
            self._parts.append(part)
            full = len(self._parts) >= MAX_BUFFERED_LINES
        if full:
            self.drain()

    def flush(self) -> None:
        """Called by ``StreamHandler`` after every record: deliberately does nothing."""

    def drain(self) -> None:
        """Render what was deferred, write everything with one call, then flush the target."""
        with self._lock:
            parts, self._parts = self._parts, []
        if parts:
            self.target.write("".join(p if isinstance(p, str) else p[0](*p[1]) for p in parts))
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


ACCESS_LOGGER = "nodes.access"


class AccessLog:
    """The node's one JSON line per request (logger ``nodes.access``, message ``request``).

    Through ``logging`` a line cost about a third of a ``GET /whoami``'s CPU (45 of 130 µs per
    request: the record, the handler's lock, the formatter and the encoder; LOG_LEVEL=INFO
    against WARNING under wrk). So when the process logs the node's own way (``python -m
    nodes``: the root logger's only handler a buffered ``servicekit.jsonlog`` one, no filter,
    no other handler on the way), a request only hands its fields to that buffer, and the line
    is rendered when the buffer drains: the text the formatter writes for the same record
    (a test holds them equal), in order with the other lines. Anywhere else (pytest's capture,
    another handler) each line is a ``logging`` record as before. Decided once, here.
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._buffer, formatter = _plain_json_route(self._logger)
        self._render = AccessLine(formatter, node) if formatter is not None else None

    @property
    def direct(self) -> bool:
        """True when lines skip ``logging`` and go to the buffer as fields."""
        return self._buffer is not None

    def write(
        self,
        request_id: str,
        route: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        trace: str | None,
    ) -> None:
        """One request's line; ``trace`` is already checked (or ``None``)."""
        if not self._logger.isEnabledFor(logging.INFO):
            return
        if self._buffer is not None and self._render is not None:
            fields = (time.time(), request_id, route, method, path, status, seconds, trace)
            self._buffer.defer(self._render, fields)
            return
        extra: dict[str, Any] = {
            "request_id": request_id,
            "node": self.node,
            "route": route,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        if trace:
            extra["trace"] = trace  # as the balancer propagated it
        self._logger.info("request", extra=extra)


def _plain_json_route(
    logger: logging.Logger,
) -> tuple[BufferedLogStream | None, JsonFormatter | None]:
    """The buffer and formatter that would write every INFO record of ``logger`` and nothing
    else would see: one plain buffered JSON handler on the root, no filter, none on the way."""
    root = logging.getLogger()
    if len(root.handlers) != 1 or root.filters or logger.filters:
        return None, None
    handler = root.handlers[0]
    stream = getattr(handler, "stream", None)
    formatter = handler.formatter
    if (
        type(handler) is not logging.StreamHandler
        or not isinstance(stream, BufferedLogStream)
        or not isinstance(formatter, JsonFormatter)
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None, None
    node: logging.Logger | logging.PlaceHolder | None = logger
    while isinstance(node, logging.Logger) and node is not root:
        if node.handlers or not node.propagate:
            return None, None
        node = node.parent
    return stream, formatter


class AccessLine:
    """Renders the line ``JsonFormatter`` writes for an access record, with no record made."""

    def __init__(self, formatter: JsonFormatter, node: str) -> None:
        self._timestamp = formatter.timestamp
        static = "".join(f",{_text(k)}:{_text(v)}" for k, v in formatter.static.items())
        self._head = f',"level":"info","logger":{_text(ACCESS_LOGGER)},"msg":"request"{static}'
        self._node = _text(node)

    def __call__(
        self,
        created: float,
        request_id: str,
        route: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        trace: str | None,
    ) -> str:
        msecs = int((created - int(created)) * 1000)  # as ``logging.LogRecord`` computes it
        line = (
            f'{{"ts":"{self._timestamp(created, msecs)}"{self._head},"request_id":'
            f'{_text(request_id)},"node":{self._node},"route":{_text(route)},"method":'
            f'{_text(method)},"path":{_text(path)},"status":{int(status)!r},"duration_ms":'
            f"{round(seconds * 1000, 2)!r}"
        )
        if trace:
            line += f',"trace":{_text(trace)}'
        return line + "}\n"
