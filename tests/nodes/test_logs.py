"""Buffered log lines: JSON lines in order, tracebacks kept, nothing written until drained."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from nodes import logs
from nodes.logs import ClientProtocolErrors, buffer_logs, drain_all, fast_records
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


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], logging.logThreads, logging.logProcesses)
    saved_more = (logging.logMultiprocessing, logging._srcfile)
    yield
    root.handlers[:], logging.logThreads, logging.logProcesses = saved
    logging.logMultiprocessing, logging._srcfile = saved_more


@pytest.mark.usefixtures("restore_logging")
def test_fast_records_only_turns_off_lookups_no_line_shows() -> None:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    formatter = JsonFormatter("node", "n1")
    handler.setFormatter(formatter)
    logging.getLogger().handlers[:] = [handler]
    fast_records()
    assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
    assert logging._srcfile is None and handler.formatter is formatter
    logging.getLogger("nodes.access").warning("request", extra={"request_id": "r9"})
    entry = json.loads(sink.getvalue())
    assert (entry["request_id"], entry["instance"], entry["level"]) == ("r9", "n1", "warning")


def test_only_parser_errors_become_warnings_without_a_traceback() -> None:
    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            return logging.getLogger("aiohttp.server").makeRecord(
                "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                ("127.0.0.1",), sys.exc_info(),
            )  # fmt: skip

    parser = record(BadHttpMessage("Invalid header value char:\n\n  b'Authorization: x\\x01'"))
    assert ClientProtocolErrors().filter(parser)
    assert (parser.levelno, parser.levelname, parser.exc_info) == (logging.WARNING, "WARNING", None)
    assert vars(parser)["reason"] == "Invalid header value char" and "x\\x01" not in str(
        vars(parser)
    )
    handler_bug = record(ValueError("a bug in a handler"))
    assert ClientProtocolErrors().filter(handler_bug)
    assert handler_bug.levelno == logging.ERROR and handler_bug.exc_info is not None
