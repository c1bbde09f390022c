"""The figures of ``make compare`` from what a run measured (pure)."""

from __future__ import annotations

from loadtest.compare.table import (
    MIB,
    Measured,
    Sample,
    closing_line,
    memory,
    new_node_share,
    per_node,
    render,
    skew,
)


def measured() -> Measured:
    served = {"100 node-1": 6, "100 node-2": 2, "101 balancer": 1, "110 node-1": 3, "110 node-4": 1}
    counts = {"requests": 13, "failed": 2, "sessions_lost": 1, "served": served}
    samples = [Sample(100, "node-1", 50 * MIB, 0), Sample(110, "node-1", 52 * MIB, 7)]
    return Measured("stateful+sticky", counts, samples, scaled_at=110, new_node="node-4")


def test_answers_per_node_leave_out_the_balancers_own() -> None:
    m = measured()
    assert per_node(m) == {"node-1": 9, "node-2": 2, "node-4": 1}
    assert per_node(m, since=110) == {"node-1": 3, "node-4": 1}
    assert new_node_share(m) == 0.25
    assert skew({"a": 3, "b": 1}) == 1.5 and skew({}) == 0.0


def test_memory_peak_and_sessions() -> None:
    assert memory(measured()) == (52.0, 7)
    assert memory(Measured("stateless", {})) == (0.0, 0)


def test_the_closing_line_and_the_table() -> None:
    m = measured()
    assert closing_line(m) == "stateful+sticky: requests 13, failed 2, sessions lost 1"
    table = render([m])
    assert table.startswith("| | stateful+sticky |") and "| 25% (node-4) |" in table
