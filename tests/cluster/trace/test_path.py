"""The trace parser and path builder on log lines shaped like the real ones, no I/O."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cluster.trace import render
from cluster.trace.path import Line, parse_line, parse_ts, retried, select, trace_ids

RID = "9b2c41d0e1f24a7c8d9e0f1a2b3c4d5e"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def node(
    name: str, ts: str, status: int = 200, ms: float = 2.0, rid: str = RID, trace: str = ""
) -> str:
    entry: dict[str, Any] = {
        "ts": ts, "level": "info", "logger": "nodes.access", "msg": "request",
        "service": "node", "instance": name, "request_id": rid, "node": name,
        "route": "/users/{id}/orders", "method": "POST", "path": "/users/alice/orders",
        "status": status, "duration_ms": ms,
    }  # fmt: skip
    if trace:
        entry["trace"] = trace
    return json.dumps(entry)


def balancer(ts: str, notes: list[str], status: int = 201, ms: float = 3010.0) -> str:
    return json.dumps({
        "ts": ts, "level": "info", "logger": "balancer.exchange", "msg": "request",
        "service": "balancer", "instance": "127.0.0.1:8080", "request_id": RID,
        "method": "POST", "path": "/users/alice/orders", "status": status,
        "attempts": notes, "duration_ms": ms,
    })  # fmt: skip


def lines(*texts: str) -> list[Line]:
    parsed = [parse_line(text, f"src{i}") for i, text in enumerate(texts)]
    return [line for line in parsed if line is not None]


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert parse_ts("1970-01-01T00:00:01.250Z") == pytest.approx(1.25)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"msg": "cluster up", "ts": "1970-01-01T00:00:00.000Z"}),
        json.dumps({"msg": "request", "ts": "bad", "request_id": "x"}),
        "1:M 01 Dec 2026 12:00:00.000 * Ready to accept connections",  # redis.log
    ],
)
def test_other_lines_are_ignored(text: str) -> None:
    assert parse_line(text, "x.log") is None


@pytest.mark.parametrize(
    ("trace", "ids"),
    [
        ("", set()),
        ("463ac35c9f6413ad", {"463ac35c9f6413ad"}),
        (TRACEPARENT, {TRACEPARENT, "4bf92f3577b34da6a3ce929d0e0e4736"}),
    ],
)
def test_trace_ids(trace: str, ids: set[str]) -> None:
    assert trace_ids(trace) == ids


# Each case: the log lines, then (try, node, outcome, then, node status or None) per attempt.
CASES = {
    "first try answered: no balancer line": (
        [node("node-1", "2026-12-01T12:00:00.010Z", 201)],
        [(1, "node-1", "answered", "", 201)],
    ),
    "killed node, retried elsewhere": (
        [
            node("node-3", "2026-12-01T12:00:00.020Z", 201, ms=5.0),
            balancer("2026-12-01T12:00:00.021Z",
                     ["try=1 backend=node-2 outcome=connect-failed then=retry"], ms=12.0),
        ],
        [(1, "node-2", "connect-failed", "retry", None), (2, "node-3", "answered", "", 201)],
    ),
    "frozen node logs late, after the retry answered": (
        [
            node("node-3", "2026-12-01T12:00:03.015Z", 201, ms=10.0),
            balancer("2026-12-01T12:00:03.016Z",
                     ["try=1 backend=node-2 outcome=timeout then=retry"]),
            node("node-2", "2026-12-01T12:00:05.000Z", 201, ms=5000.0),
        ],
        [(1, "node-2", "timeout", "retry", 201), (2, "node-3", "answered", "", 201)],
    ),
    "503 from a draining node, then the budget says no": (
        [
            node("node-1", "2026-12-01T12:00:00.005Z", 503, ms=1.0),
            balancer("2026-12-01T12:00:00.006Z",
                     ["try=1 backend=node-1 outcome=503 then=stop(budget)"], status=503, ms=3.0),
        ],
        [(1, "node-1", "503", "stop(budget)", 503)],
    ),
    "no backend at all": (
        [balancer("2026-12-01T12:00:00.001Z", ["no backend to try"], status=503, ms=0.1)],
        [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_attempts(case: str) -> None:
    given, expected = CASES[case]
    (path,) = select(lines(*given), RID)
    got = [
        (a.number, a.backend, a.outcome, a.then, a.node_line.status if a.node_line else None)
        for a in path.attempts
    ]
    assert got == expected
    assert path.retries == sum(1 for *_, then, _s in expected if then == "retry")
    assert render.text(path).startswith(f"request {RID}  POST /users/alice/orders")


def test_a_trace_id_finds_the_balancer_line_through_the_request_id() -> None:
    given = [
        node("node-3", "2026-12-01T12:00:00.020Z", 201, trace=TRACEPARENT),
        balancer("2026-12-01T12:00:00.021Z", ["try=1 backend=node-2 outcome=reset then=retry"]),
        node("node-1", "2026-12-01T12:00:00.030Z", 200, rid="other"),
    ]
    for ident in (TRACEPARENT, "4bf92f3577b34da6a3ce929d0e0e4736", RID):
        (path,) = select(lines(*given), ident)
        assert path.balancer is not None and path.retries == 1
        assert [line.node for line in path.nodes] == ["node-3"]
    assert select(lines(*given), "nothing") == []


def test_rendered_offsets_start_at_the_balancer() -> None:
    given = [
        node("node-3", "2026-12-01T12:00:03.015Z", 201, ms=10.0),
        balancer("2026-12-01T12:00:03.016Z", ["try=1 backend=node-2 outcome=timeout then=retry"]),
    ]
    (path,) = select(lines(*given), RID)
    out = render.text(path)
    assert "balancer: 201 after 3010.0 ms, 2 tries, 1 retry" in out
    assert "+2999.0" in out  # node-3 started at 3.005 s, the balancer at 3.016 - 3.010 s
    doc = render.as_json(path)
    assert doc["retries"] == 1 and doc["attempts"][1]["node_status"] == 201


def test_retried_lists_only_requests_that_were_sent_again() -> None:
    given = [
        balancer("2026-12-01T12:00:00.001Z", ["no backend to try"], status=503),
        balancer("2026-12-01T12:00:00.021Z", ["try=1 backend=node-2 outcome=reset then=retry"]),
    ]
    assert retried(lines(*given)) == [RID]
