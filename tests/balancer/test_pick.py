from __future__ import annotations

import pytest

from balancer.pick import least_recently_failed, round_robin


@pytest.mark.parametrize(
    ("eligible", "cursor", "exclude", "expected"),
    [
        ([True, True, True], 0, (), (0, 1)),
        ([True, True, True], 2, (), (2, 0)),
        ([False, True, True], 0, (), (1, 2)),
        ([True, False, True], 1, (), (2, 0)),
        ([True, True, True], 0, (0,), (1, 2)),
        ([True, True, False], 1, (1,), (0, 1)),
        ([False, False, False], 1, (), (None, 1)),
        ([True, False], 0, (0,), (None, 0)),
        ([], 0, (), (None, 0)),
    ],
)
def test_round_robin_table(
    eligible: list[bool], cursor: int, exclude: tuple[int, ...], expected: tuple[int | None, int]
) -> None:
    assert round_robin(eligible, cursor, exclude) == expected


def test_round_robin_spreads_evenly_whatever_the_request() -> None:
    cursor, seen = 0, []
    for _ in range(9):
        index, cursor = round_robin([True, True, True], cursor)
        seen.append(index)
    assert seen == [0, 1, 2] * 3


def test_round_robin_skips_a_down_backend_and_comes_back_to_it() -> None:
    eligible = [True, True, True]
    index, cursor = round_robin(eligible, 0)
    eligible[1] = False
    index, cursor = round_robin(eligible, cursor)
    assert index == 2
    eligible[1] = True
    picks = []
    for _ in range(3):
        index, cursor = round_robin(eligible, cursor)
        picks.append(index)
    assert sorted(picks) == [0, 1, 2]


@pytest.mark.parametrize(
    ("failures", "exclude", "expected"),
    [
        ([5.0, 1.0, 3.0], (), 1),
        ([5.0, 1.0, 3.0], (1,), 2),
        ([0.0, 1.0], (), 0),  # never failed beats any failure
        ([2.0], (0,), None),
        ([], (), None),
    ],
)
def test_least_recently_failed(
    failures: list[float], exclude: tuple[int, ...], expected: int | None
) -> None:
    assert least_recently_failed(failures, exclude) == expected
