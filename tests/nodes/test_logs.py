"""Buffered log lines: JSON lines in order, tracebacks kept, nothing written until drained."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from nodes import logs
from nodes.logs import (
    ACCESS_LOGGER,
    AccessLine,
    AccessLog,
    BufferedLogStream,
    ClientProtocolErrors,
    buffer_logs,
    drain_all,
    fast_records,
)
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


# --- the access line, deferred ------------------------------------------------------------

T0 = 1_700_000_000
ODD_PATHS = ("/whoami", '/a"b\\c', "/é/☃/\U0001f600", "/\x00\x1f\x7f", "/%2F?x=1", "")


def _logged_line(formatter: JsonFormatter, created: float, fields: dict[str, Any]) -> str:
    """The line ``logging`` writes for the access record (what ``AccessLog`` did before)."""
    log = logging.getLogger(ACCESS_LOGGER)
    record = log.makeRecord(log.name, logging.INFO, "m.py", 1, "request", (), None, extra=fields)
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    return formatter.format(record) + "\n"


def test_the_deferred_line_is_the_line_logging_writes() -> None:
    formatter = JsonFormatter("node", 'n"1')
    render = AccessLine(formatter, "node-é")
    for created in (T0 + 0.001, T0 + 0.9995, T0 + 1.0, T0 - 86400.25, T0 + 2.5):
        for path in ODD_PATHS:
            for seconds, trace in ((0.000123, None), (1.23456, "00-ab-cd-01"), (7.0, "")):
                fields = {"request_id": "r-1", "node": "node-é", "route": "/orders/{id}",
                          "method": "GET", "path": path, "status": 200,
                          "duration_ms": round(seconds * 1000, 2)}  # fmt: skip
                if trace:
                    fields["trace"] = trace
                line = render(created, "r-1", "/orders/{id}", "GET", path, 200, seconds, trace)
                assert line == _logged_line(formatter, created, fields)
                assert json.loads(line)["path"] == path


@contextmanager
def only_the_json_handler() -> Iterator[logging.Handler]:
    """The root's handlers as in ``python -m nodes`` (without pytest's, added for each test)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [h for h in saved if isinstance(h.formatter, JsonFormatter)]
    try:
        yield root.handlers[0]
    finally:
        root.handlers[:] = saved


def test_access_lines_go_to_the_buffer_in_order_with_the_others(stream: io.StringIO) -> None:
    with only_the_json_handler():
        buffers = buffer_logs()
        _write_and_drain(buffers, stream)


def _write_and_drain(buffers: list[BufferedLogStream], stream: io.StringIO) -> None:
    access = AccessLog("n1")
    assert access.direct
    access.write("r1", "/whoami", "GET", "/whoami", 200, 0.001, None)
    logging.getLogger("nodes.test").warning("between")
    access.write("r2", "unmatched", "BREW", "/x", 404, 0.002, "00-ab-cd-01")
    assert stream.getvalue() == ""
    drain_all(buffers)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e.get("request_id", e["msg"]) for e in lines] == ["r1", "between", "r2"]
    assert lines[2] | {"ts": "t"} == {
        "ts": "t", "level": "info", "logger": "nodes.access", "msg": "request", "service": "node",
        "instance": "n1", "request_id": "r2", "node": "n1", "route": "unmatched",
        "method": "BREW", "path": "/x", "status": 404, "duration_ms": 2.0, "trace": "00-ab-cd-01",
    }  # fmt: skip
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)  # LOG_LEVEL=WARNING: no line
    try:
        access.write("r3", "/whoami", "GET", "/whoami", 200, 0.001, None)
        drain_all(buffers)
        assert "r3" not in stream.getvalue()
    finally:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)


def test_access_lines_are_records_when_anything_else_may_see_them(
    stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    assert not AccessLog("n1").direct  # pytest's handlers see every record
    with only_the_json_handler() as handler:
        assert not AccessLog("n1").direct  # the handler writes to its stream at once
        buffer_logs()
        assert AccessLog("n1").direct
        _each_change_means_records(handler, caplog.handler)
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        AccessLog("n1").write("r9", "/whoami", "GET", "/whoami", 200, 0.001, None)
    assert [vars(r)["request_id"] for r in caplog.records] == ["r9"]


def _each_change_means_records(handler: logging.Handler, other: logging.Handler) -> None:
    root, access = logging.getLogger(), logging.getLogger(ACCESS_LOGGER)
    changes: list[tuple[Any, Any, Any]] = [
        (root.addHandler, root.removeHandler, other),
        (root.addFilter, root.removeFilter, logging.Filter("x")),
        (access.addFilter, access.removeFilter, logging.Filter("x")),
        (handler.addFilter, handler.removeFilter, logging.Filter("x")),
        (access.addHandler, access.removeHandler, logging.NullHandler()),
        (logging.getLogger("nodes").addHandler, logging.getLogger("nodes").removeHandler,
         logging.NullHandler()),
    ]  # fmt: skip
    for add, remove, thing in changes:
        add(thing)
        try:
            assert not AccessLog("n1").direct, (add, thing)
        finally:
            remove(thing)
    access.propagate = False
    try:
        assert not AccessLog("n1").direct
    finally:
        access.propagate = True
    handler.setLevel(logging.WARNING)
    try:
        assert not AccessLog("n1").direct
    finally:
        handler.setLevel(logging.NOTSET)
