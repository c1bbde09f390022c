"""One JSON object per log line.

``configure(service, name)`` installs a handler on the root logger that renders every record as
JSON with a timestamp, level, logger, message, the service and instance name, and whatever was
passed in ``extra=`` (``request_id``, ``route``, ``status``, ``duration_ms`` …). Nothing here
knows about tokens or passwords: callers never put them in a record.

Rendering is on every request's path (making and rendering a record took about a fifth of a
node's ``/healthz`` CPU, profiled with py-spy), so ``JsonFormatter`` renders the timestamp's whole
seconds once per second and builds its JSON encoder once; the line is the same as rendering
everything afresh (a test checks it across second boundaries).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self._static = {"service": service, "instance": instance}
        # ``json.dumps`` with any option builds a new encoder on every call.
        self._encode = json.JSONEncoder(default=str, separators=(",", ":")).encode
        #: The last whole second rendered and its text; one tuple, so a reader in another
        #: thread never sees a torn pair.
        self._second: tuple[int, str] = (-1, "")

    @property
    def static(self) -> dict[str, str]:
        """The members every line carries after ``msg``: ``service`` and ``instance``."""
        return dict(self._static)

    def timestamp(self, created: float, msecs: float) -> str:
        """The ``ts`` member of a record made at ``created`` (``msecs`` as the record has it)."""
        second, text = self._second
        if int(created) != second:  # strftime is the costliest part of a line
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            self._second = (int(created), text)
        return f"{text}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.timestamp(record.created, record.msecs),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **self._static,
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._encode(entry)


def configure(
    service: str, instance: str, level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Route every log record of the process through one JSON handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log duplicates our own per-request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
