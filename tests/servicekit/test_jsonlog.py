"""JSON log lines: the formatter's cached second and encoder change nothing in the line."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from servicekit import jsonlog
from servicekit.jsonlog import JsonFormatter

T0 = 1_700_000_000


def fresh_line(record: logging.LogRecord, service: str, instance: str) -> str:
    """The line as the specification reads: every part rendered afresh, nothing cached."""
    entry: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
        "service": service,
        "instance": instance,
    }
    standard = vars(logging.makeLogRecord({})).keys() | {"message", "asctime", "taskName"}
    entry.update(
        (k, v) for k, v in vars(record).items() if k not in standard and not k.startswith("_")
    )
    if record.exc_info:
        entry["exc"] = logging.Formatter().formatException(record.exc_info)
    return json.dumps(entry, default=str, separators=(",", ":"))


def _records() -> Iterator[logging.LogRecord]:
    log = logging.getLogger("svc.access")
    extra: dict[str, Any] = {"request_id": "r1", "status": 200, "duration_ms": 0.25}
    yield log.makeRecord(log.name, logging.INFO, "f.py", 1, "request", (), None, extra=extra)
    yield log.makeRecord(log.name, logging.WARNING, "f.py", 1, "n=%d %s", (3, "é"), None)
    odd = {"obj": object(), "path": '/a"b', "_hidden": 1, "nested": {"k": [1, None]}}
    yield log.makeRecord("svc.x", logging.ERROR, "f.py", 1, "odd", (), None, extra=odd)
    try:
        raise ValueError("boom")
    except ValueError:
        info = sys.exc_info()
    yield log.makeRecord("svc.errors", logging.ERROR, "f.py", 1, "failed", (), info)
    yield log.makeRecord("svc.x", logging.INFO, "f.py", 1, "stack", (), None, sinfo="Stack:\n")


# Within one second, across a boundary, back in time, and a second later again.
TIMES = (T0 + 0.001, T0 + 0.999, T0 + 1.0, T0 + 1.5, T0 - 86400.25, T0 + 0.5, T0 + 2.999)


def test_every_line_is_the_freshly_rendered_line() -> None:
    formatter = JsonFormatter("node", "n1")
    for created in TIMES:
        for record in _records():
            record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
            line = formatter.format(record)
            assert line == fresh_line(record, "node", "n1")
            assert json.loads(line)["ts"].endswith(f".{int(record.msecs):03d}Z")


def test_the_timestamp_follows_the_clock_across_seconds() -> None:
    formatter = JsonFormatter("svc", "i")
    record = logging.makeLogRecord({"msg": "m"})
    stamps = []
    for created in (T0 + 0.25, T0 + 1.75, T0 + 0.5):
        record.created, record.msecs = created, (created - int(created)) * 1000
        stamps.append(json.loads(formatter.format(record))["ts"])
    assert stamps == [
        "2023-11-14T22:13:20.250Z",
        "2023-11-14T22:13:21.750Z",
        "2023-11-14T22:13:20.500Z",
    ]


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("aiohttp.access").level
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    logging.getLogger("aiohttp.access").setLevel(saved[2])


@pytest.mark.usefixtures("restore_root")
def test_configure_routes_every_record_through_one_json_handler() -> None:
    sink = io.StringIO()
    jsonlog.configure("balancer", "127.0.0.1:8080", "warning", stream=sink)
    logging.getLogger("balancer.x").info("dropped: below the level")
    logging.getLogger("balancer.x").warning("kept", extra={"request_id": "r7"})
    (line,) = sink.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["msg"], entry["request_id"], entry["service"]) == ("kept", "r7", "balancer")
    assert (entry["instance"], entry["level"], entry["logger"]) == (
        "127.0.0.1:8080",
        "warning",
        "balancer.x",
    )
