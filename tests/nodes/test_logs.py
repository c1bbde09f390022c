"""Buffered log lines: JSON lines in order, tracebacks kept, nothing written until drained."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cluster.jsonlog import JsonFormatter
from nodes import logs
from nodes.logs import buffer_logs, drain_all


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
