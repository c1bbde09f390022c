"""Buffered log lines: JSON lines in order, tracebacks kept, nothing written until drained."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from nodes import logs
from nodes.logs import FastJsonFormatter, buffer_logs, drain_all, fast_records
from servicekit.jsonlog import JsonFormatter


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter("node", "n1"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    yield sink
    root.handlers[:], root.level = saved, level


def test_lines_wait_for_a_drain_and_keep_order_and_fields(stream: io.StringIO) -> None:
    buffers = buffer_logs()
    log = logging.getLogger("nodes.test")
    for i in range(1000):
        log.info("request", extra={"request_id": f"r{i}", "status": 200})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"request_id": "x"})
    assert stream.getvalue() == ""
    drain_all(buffers)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["request_id"] for e in lines[:1000]] == [f"r{i}" for i in range(1000)]
    assert lines[0]["instance"] == "n1" and lines[0]["status"] == 200
    assert lines[-1]["msg"] == "failed" and "ValueError: boom" in lines[-1]["exc"]


def test_a_burst_is_written_without_waiting(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_BUFFERED_LINES", 10)
    buffer_logs()
    for i in range(25):
        logging.getLogger("nodes.test").info("line %d", i)
    assert len(stream.getvalue().splitlines()) == 20


# --- log lines -----------------------------------------------------------------------------


def _records() -> Iterator[logging.LogRecord]:
    log = logging.getLogger("nodes.access")
    extra: dict[str, Any] = {"request_id": "r1", "status": 200, "duration_ms": 0.25}
    yield log.makeRecord(log.name, logging.INFO, "f.py", 1, "request", (), None, extra=extra)
    yield log.makeRecord(log.name, logging.WARNING, "f.py", 1, "n=%d %s", (3, "é"), None)
    odd = {"obj": object(), "path": '/a"b', "_hidden": 1, "nested": {"k": [1, None]}}
    yield log.makeRecord("nodes.x", logging.ERROR, "f.py", 1, "odd", (), None, extra=odd)
    try:
        raise ValueError("boom")
    except ValueError:
        info = sys.exc_info()
    yield log.makeRecord("nodes.errors", logging.ERROR, "f.py", 1, "failed", (), info)


def test_fast_formatter_writes_exactly_the_shared_formatters_lines() -> None:
    slow, fast = JsonFormatter("node", "n1"), FastJsonFormatter("node", "n1")
    for record in _records():
        for created in (record.created, record.created + 1.5, 1_700_000_000.999):
            record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
            line = fast.format(record)
            assert line == slow.format(record)
            json.loads(line)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], logging.logThreads, logging.logProcesses)
    saved_more = (logging.logMultiprocessing, logging._srcfile)
    yield
    root.handlers[:], logging.logThreads, logging.logProcesses = saved
    logging.logMultiprocessing, logging._srcfile = saved_more


@pytest.mark.usefixtures("restore_logging")
def test_fast_records_swap_only_the_json_formatter_and_keep_the_line() -> None:
    sink, other = io.StringIO(), logging.StreamHandler(io.StringIO())
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter("node", "n1"))
    logging.getLogger().handlers[:] = [handler, other]
    fast_records("node", "n1")
    assert type(handler.formatter) is FastJsonFormatter and other.formatter is None
    logging.getLogger("nodes.access").warning("request", extra={"request_id": "r9"})
    entry = json.loads(sink.getvalue())
    assert (entry["request_id"], entry["instance"], entry["level"]) == ("r9", "n1", "warning")
