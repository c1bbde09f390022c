"""The background log writer: JSON lines in order, tracebacks kept, everything flushed at stop."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cluster.jsonlog import JsonFormatter
from nodes.logs import log_in_background


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


def test_records_are_written_in_order_with_their_fields(stream: io.StringIO) -> None:
    writer = log_in_background()
    log = logging.getLogger("nodes.test")
    for i in range(1000):
        log.info("request", extra={"request_id": f"r{i}", "status": 200})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed", extra={"request_id": "x"})
    writer.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["request_id"] for e in lines[:1000]] == [f"r{i}" for i in range(1000)]
    assert lines[0]["instance"] == "n1" and lines[0]["status"] == 200
    assert lines[-1]["msg"] == "failed" and "ValueError: boom" in lines[-1]["exc"]
