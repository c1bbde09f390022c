"""The capacity curve's sorting of answers and its figures (pure)."""

from __future__ import annotations

import math

import pytest

from loadtest.bench.capacity import Answer, Step, is_shed, percentile, table


@pytest.mark.parametrize(
    ("status", "headers", "shed"),
    [
        (503, {"X-Not-Processed": "true", "Retry-After": "1"}, True),
        (503, {"retry-after": "2"}, True),  # HAProxy's queue timeout, given a Retry-After
        (503, {}, False),  # a 503 that says nothing: the work may have started
        (504, {"Retry-After": "1"}, False),
        (200, {"X-Not-Processed": "true"}, False),
    ],
)
def test_is_shed(status: int, headers: dict[str, str], shed: bool) -> None:
    assert is_shed(status, headers) is shed


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 95) == 3.0
    assert math.isnan(percentile([], 50))


def test_step_sorts_answers() -> None:
    step = Step("balancer", 50, 2.0, [
        Answer(200, 0.2), Answer(200, 0.4), Answer(503, 0.01, shed=True),
        Answer(504, 30.0), Answer(0, 35.0),
    ])  # fmt: skip
    assert step.served == [0.2, 0.4]
    assert (step.shed, step.failed) == (1, 2)
    assert step.served_per_s == 1.0
    assert step.percentile_ms(50) == 200.0


def test_table_rows_by_rate_then_target() -> None:
    steps = [Step("haproxy", 25, 1.0, [Answer(200, 0.1)]), Step("balancer", 10, 1.0, []),
             Step("balancer", 25, 1.0, [Answer(0, 1.0)])]  # fmt: skip
    rows = table(steps).splitlines()[2:]
    assert [r.split(" | ")[0:2] for r in rows] == [
        ["| balancer", "10"], ["| balancer", "25"], ["| haproxy", "25"]
    ]  # fmt: skip
    assert rows[0].endswith("| – | – | – | 0 | 0 |")
    assert rows[1].endswith("| 0 | 1 |")
